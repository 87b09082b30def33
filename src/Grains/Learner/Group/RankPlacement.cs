using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime.MembershipService.SiloMetadata;
using RlhfActors.Grains.Placement;

namespace RlhfActors.Grains.Learner.Group;

/// <summary>
/// Where the ranks of a learner group go: one per accelerator device (the slots of
/// <see cref="AcceleratorPlacementDirector"/>: each active silo as often as it advertises devices, in silo order),
/// starting with the slot after rank 0's silo, so that N ranks take N different devices when the cluster has them.
/// A cluster that advertises none spreads them over its active silos in turn. A replacement for a lost rank takes a
/// slot no surviving rank holds.
/// </summary>
public static class RankPlacement
{
    /// <summary>How many ranks a group of <paramref name="learners"/> forms with. A resume after losing silos forms with
    /// as many as the cluster has devices for now (at least rank 0's own): fewer ranks re-shard the same global
    /// batches (each still divides by the whole batch's normalisers), which changes nothing but the summation order,
    /// where refusing would leave a recoverable run stopped. A first start asks for them all, and
    /// <see cref="ForRanks"/> refuses too few devices (a config mistake).</summary>
    public static int RanksToForm(IServiceProvider services, int learners, bool resuming) =>
        resuming ? Math.Min(learners, Math.Max(1, Slots(services).Count)) : learners;

    /// <summary>The silo of each of ranks 1 … <paramref name="ranks"/> − 1.</summary>
    public static SiloAddress[] ForRanks(IServiceProvider services, SiloAddress rankZero, int ranks)
    {
        var slots = Slots(services);
        if (slots.Count == 0) slots.Add(rankZero);
        // A rank blocks its device's worker thread while it waits for the others' gradients: two ranks on one
        // device would wait for each other forever.
        if (slots.Count < ranks)
            throw new LearnerGroupException($"parallel.learners is {ranks}, but the cluster offers {slots.Count} device(s) ({(HasAccelerators(services) ? "accelerator devices advertised by its silos" : "one per active silo: none advertises an accelerator")}); each learner rank needs a device of its own (lower parallel.learners, or run on a cluster with more: README, \"Data-parallel learners\")");
        int first = slots.IndexOf(rankZero);
        return [.. Enumerable.Range(1, ranks - 1).Select(r => slots[(first + r + slots.Count) % slots.Count])];
    }

    /// <summary>Up to <paramref name="count"/> slots that no rank of <paramref name="occupied"/> holds: where
    /// replacements for lost ranks can go without sharing a device (none when the cluster has no free device).</summary>
    public static SiloAddress[] Free(IServiceProvider services, IEnumerable<SiloAddress> occupied, int count)
    {
        var free = Slots(services);
        foreach (var silo in occupied) free.Remove(silo);
        return [.. free.Take(Math.Max(0, count))];
    }

    static bool HasAccelerators(IServiceProvider services) =>
        HardwareMetadata.AcceleratorSlots(ActiveSilos(services), services.GetRequiredService<ISiloMetadataCache>()).Count > 0;

    /// <summary>The device slots (<see cref="HardwareMetadata.AcceleratorSlots"/>) of the active silos; the active
    /// silos themselves, in the same order, when none advertises a device.</summary>
    static List<SiloAddress> Slots(IServiceProvider services)
    {
        var active = ActiveSilos(services).OrderBy(s => s.ToParsableString(), StringComparer.Ordinal).ToList();
        var slots = HardwareMetadata.AcceleratorSlots(active, services.GetRequiredService<ISiloMetadataCache>());
        return slots.Count > 0 ? slots : active;
    }

    static IEnumerable<SiloAddress> ActiveSilos(IServiceProvider services) =>
        services.GetRequiredService<IClusterMembershipService>().CurrentSnapshot.Members.Values
            .Where(m => m.Status == SiloStatus.Active).Select(m => m.SiloAddress);
}
