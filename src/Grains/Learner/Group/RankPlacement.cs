using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime.MembershipService.SiloMetadata;
using RlhfActors.Grains.Placement;

namespace RlhfActors.Grains.Learner.Group;

/// <summary>
/// Where the ranks of a learner group go: one per accelerator device (the slots of
/// <see cref="AcceleratorPlacementDirector"/>: each active silo as often as it advertises devices, in silo order),
/// starting with the slot after rank 0's silo, so that N ranks take N different devices when the cluster has them.
/// A cluster that advertises none spreads them over its active silos in turn.
/// </summary>
public static class RankPlacement
{
    /// <summary>The silo of each of ranks 1 … <paramref name="ranks"/> − 1.</summary>
    public static SiloAddress[] ForRanks(IServiceProvider services, SiloAddress rankZero, int ranks)
    {
        var membership = services.GetRequiredService<IClusterMembershipService>();
        var metadata = services.GetRequiredService<ISiloMetadataCache>();
        var active = membership.CurrentSnapshot.Members.Values
            .Where(m => m.Status == SiloStatus.Active)
            .Select(m => m.SiloAddress)
            .OrderBy(s => s.ToParsableString(), StringComparer.Ordinal)
            .ToList();
        if (active.Count == 0) active.Add(rankZero);
        var slots = active.SelectMany(s => Enumerable.Repeat(s, HardwareMetadata.AcceleratorDevices(metadata.GetSiloMetadata(s)))).ToList();
        if (slots.Count == 0) slots = active;
        int first = slots.IndexOf(rankZero);
        return [.. Enumerable.Range(1, ranks - 1).Select(r => slots[(first + r + slots.Count) % slots.Count])];
    }
}
