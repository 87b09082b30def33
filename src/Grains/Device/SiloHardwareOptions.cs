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
        return new SiloHardwareOptions { Accelerator = accelerator, DeviceCount = count, ComputeOnCpu = ComputeOnCpu };
    }

    /// <summary>Throws naming the setting that is wrong.</summary>
    public void Validate()
    {
        if (Accelerator is not null && Accelerator is not ("cuda" or NoAccelerator))
            throw new ArgumentException($"{Section}:{nameof(Accelerator)} must be 'cuda' or '{NoAccelerator}' (got '{Accelerator}')");
        if (DeviceCount is < 0 or > 64)
            throw new ArgumentException($"{Section}:{nameof(DeviceCount)} must be between 0 and 64 (got {DeviceCount})");
        if (Accelerator == NoAccelerator && DeviceCount > 0)
            throw new ArgumentException($"{Section}:{nameof(DeviceCount)} is {DeviceCount} but {nameof(Accelerator)} is '{NoAccelerator}'");
    }
}
