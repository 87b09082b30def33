namespace RlhfActors.Grains.Device;

/// <summary>
/// Hands each heavy grain activation on this silo the device its model lives on: "cuda:0", "cuda:1", … in turn over
/// the silo's advertised devices, or "cpu" where it has none ("cpu", "cpu#1", … in turn when the silo runs several CPU
/// workers: the same torch device, separate threads). Round-robin rather than tracking releases: heavy
/// activations are few and long-lived, so turns spread them evenly enough without bookkeeping on deactivation.
/// </summary>
public sealed class DeviceAllocator
{
    readonly string _accelerator;
    readonly int _deviceCount;
    readonly int _cpuWorkers;
    int _next = -1;

    /// <param name="hardware">Resolved hardware (see <see cref="SiloHardwareOptions.Resolve"/>).</param>
    public DeviceAllocator(SiloHardwareOptions hardware)
    {
        ArgumentNullException.ThrowIfNull(hardware);
        Hardware = hardware;
        _accelerator = hardware.Accelerator ?? SiloHardwareOptions.NoAccelerator;
        // ComputeOnCpu: placement still follows the advertised accelerator, but the work runs on the CPU worker.
        _deviceCount = hardware.HasAccelerator && !hardware.ComputeOnCpu ? hardware.DeviceCount!.Value : 0;
        _cpuWorkers = Math.Max(1, hardware.CpuWorkers);
    }

    public SiloHardwareOptions Hardware { get; }

    /// <summary>The next device name; safe to call from any activation.</summary>
    public string Allocate()
    {
        if (_deviceCount == 0 && _cpuWorkers == 1) return DeviceWorkers.Cpu;
        var turn = (uint)Interlocked.Increment(ref _next);
        if (_deviceCount == 0) return DeviceWorkers.CpuWorker((int)(turn % (uint)_cpuWorkers));
        return $"{_accelerator}:{turn % (uint)_deviceCount}";
    }
}
