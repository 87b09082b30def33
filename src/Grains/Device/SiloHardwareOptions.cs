using TorchSharp;

namespace RlhfActors.Grains.Device;

/// <summary>
/// The devices a silo advertises to the cluster (as silo metadata, read by the accelerator placement director) and
/// hands to its heavy grains (configuration section "Rlhf:Hardware"). Unset figures are detected with TorchSharp at
/// start-up; tests and heterogeneous clusters set them explicitly.
/// </summary>
public sealed class SiloHardwareOptions
{
    public const string Section = "Rlhf:Hardware";

    /// <summary>Value of <see cref="Accelerator"/> for a silo that has none.</summary>
    public const string NoAccelerator = "none";

    /// <summary>"cuda" or "none"; null detects.</summary>
    public string? Accelerator { get; set; }

    /// <summary>Accelerator devices on this silo (0 when it has none); null detects.</summary>
    public int? DeviceCount { get; set; }

    /// <summary>
    /// Advertise the accelerator for placement, but run the grains' torch work on "cpu". For tests and dry runs of a
    /// cluster layout on machines without a GPU: placement is steered exactly as in production.
    /// </summary>
    public bool ComputeOnCpu { get; set; }

    /// <summary>
    /// CPU device workers (threads with their own job queue) for the heavy grains of a silo that computes on the CPU.
    /// 1 (default): every heavy grain shares one thread, so their work never overlaps. More: the allocator hands them
    /// out in turn, so e.g. a sampler can generate while the learner trains (async GRPO) on a machine with cores to
    /// spare; pair it with <see cref="CpuThreadsPerWorker"/> so the workers do not oversubscribe the cores.
    /// </summary>
    public int CpuWorkers { get; set; } = 1;

    /// <summary>libtorch intra-op threads of each CPU worker (torch.set_num_threads on the worker's thread; the
    /// setting is per thread); 0 keeps libtorch's default (one per core).</summary>
    public int CpuThreadsPerWorker { get; set; }

    public bool HasAccelerator => Accelerator is not null && Accelerator != NoAccelerator && DeviceCount > 0;

    /// <summary>A copy with every unset figure filled in from what TorchSharp sees on this machine.</summary>
    public SiloHardwareOptions Resolve()
    {
        var accelerator = Accelerator;
        var count = DeviceCount;
        if (accelerator is null || count is null)
        {
            // Asking torch loads the native library; only done when configuration leaves something to detect.
            var cuda = torch.cuda.is_available();
            accelerator ??= cuda ? "cuda" : NoAccelerator;
            count ??= accelerator == NoAccelerator ? 0 : cuda ? torch.cuda.device_count() : 0;
        }
        return new SiloHardwareOptions
        {
            Accelerator = accelerator, DeviceCount = count, ComputeOnCpu = ComputeOnCpu,
            CpuWorkers = CpuWorkers, CpuThreadsPerWorker = CpuThreadsPerWorker,
        };
    }

    /// <summary>Throws naming the setting that is wrong.</summary>
    public void Validate()
    {
        if (Accelerator is not null && Accelerator is not ("cuda" or NoAccelerator))
            throw new ArgumentException($"{Section}:{nameof(Accelerator)} must be 'cuda' or '{NoAccelerator}' (got '{Accelerator}')");
        if (DeviceCount is < 0 or > 64)
            throw new ArgumentException($"{Section}:{nameof(DeviceCount)} must be between 0 and 64 (got {DeviceCount})");
        if (CpuWorkers is < 1 or > 64)
            throw new ArgumentException($"{Section}:{nameof(CpuWorkers)} must be between 1 and 64 (got {CpuWorkers})");
        if (CpuThreadsPerWorker is < 0 or > 1024)
            throw new ArgumentException($"{Section}:{nameof(CpuThreadsPerWorker)} must be between 0 (libtorch default) and 1024 (got {CpuThreadsPerWorker})");
        if (Accelerator == NoAccelerator && DeviceCount > 0)
            throw new ArgumentException($"{Section}:{nameof(DeviceCount)} is {DeviceCount} but {nameof(Accelerator)} is '{NoAccelerator}'");
    }
}
