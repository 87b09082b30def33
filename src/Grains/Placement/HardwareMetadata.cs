using System.Globalization;
using Orleans.Runtime.MembershipService.SiloMetadata;
using RlhfActors.Grains.Device;

namespace RlhfActors.Grains.Placement;

/// <summary>The silo metadata keys through which a silo advertises its devices, and their reading back.</summary>
public static class HardwareMetadata
{
    public const string Accelerator = "hardware.accelerator";
    public const string DeviceCount = "hardware.device_count";

    /// <summary>The metadata entries for resolved <paramref name="hardware"/>.</summary>
    public static Dictionary<string, string> From(SiloHardwareOptions hardware) => new(StringComparer.Ordinal)
    {
        [Accelerator] = hardware.Accelerator ?? SiloHardwareOptions.NoAccelerator,
        [DeviceCount] = (hardware.DeviceCount ?? 0).ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>Accelerator devices a silo advertises; 0 for none, and for a silo whose metadata is not known (yet).</summary>
    public static int AcceleratorDevices(SiloMetadata metadata)
    {
        var m = metadata.Metadata;
        if (!m.TryGetValue(Accelerator, out var accelerator) || accelerator == SiloHardwareOptions.NoAccelerator) return 0;
        return m.TryGetValue(DeviceCount, out var text)
               && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var count) ? count : 0;
    }

    /// <summary>One entry per advertised accelerator device of each of <paramref name="silos"/>, in a fixed silo order
    /// (so turns over it are stable while membership is): the device slots heavy grains and learner ranks take. Empty
    /// when none advertises one.</summary>
    public static List<SiloAddress> AcceleratorSlots(IEnumerable<SiloAddress> silos, ISiloMetadataCache metadata) =>
        [.. silos.OrderBy(s => s.ToParsableString(), StringComparer.Ordinal)
            .SelectMany(s => Enumerable.Repeat(s, AcceleratorDevices(metadata.GetSiloMetadata(s))))];
}
