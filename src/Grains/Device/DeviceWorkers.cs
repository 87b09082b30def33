using System.Collections.Concurrent;

namespace RlhfActors.Grains.Device;

/// <summary>
/// The silo's device workers, one per worker name ("cuda:0", "cpu", "cpu#1", …), created on first use. Registered as a DI singleton, so every
/// grain of a silo that asks for "cpu" shares one thread, and the container disposes the workers at shutdown.
/// </summary>
public sealed class DeviceWorkers(DeviceAllocator? allocator = null) : IDisposable
{
    public const string Cpu = "cpu";
    const char WorkerSeparator = '#';

    readonly int _cpuThreads = allocator?.Hardware.CpuThreadsPerWorker ?? 0;

    /// <summary>Name of CPU worker <paramref name="index"/>: "cpu" for the first, "cpu#1", "cpu#2", … after it.</summary>
    public static string CpuWorker(int index) => index == 0 ? Cpu : $"{Cpu}{WorkerSeparator}{index}";

    /// <summary>The torch device of a worker name ("cpu#1" → "cpu").</summary>
    public static string TorchDevice(string worker) => worker.Split(WorkerSeparator)[0];

    readonly ConcurrentDictionary<string, Lazy<DeviceWorker>> _workers = new(StringComparer.Ordinal);
    volatile bool _disposed;

    public DeviceWorker Get(string device = Cpu)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (string.IsNullOrWhiteSpace(device)) throw new ArgumentException("device name is empty", nameof(device));
        return _workers.GetOrAdd(device, d => new Lazy<DeviceWorker>(() => new DeviceWorker(d, TorchDevice(d) == Cpu ? _cpuThreads : 0))).Value;
    }

    public void Dispose()
    {
        _disposed = true;
        foreach (var worker in _workers.Values)
            if (worker.IsValueCreated) worker.Value.Dispose();
    }
}
