using RlhfActors.Abstractions.Placement;

namespace RlhfActors.Grains.Learner.Group;

/// <summary>The two checks every group's rank 0 makes (the learner's and the critic's): the ranks hold the same
/// weights, and no two ranks share a device worker. Each returns the error to stop with, or null.</summary>
public static class GroupChecks
{
    /// <summary>Ranks whose weights' digest is not rank 0's <paramref name="own"/> (peers in rank order from 1).</summary>
    public static string? Disagreement(string experimentId, string role, string own, IReadOnlyList<string> peers, string when)
    {
        var differing = peers.Select((d, i) => (Rank: i + 1, Digest: d)).Where(p => p.Digest != own).ToArray();
        return differing.Length == 0 ? null
            : $"experiment '{experimentId}': the {role} ranks' weights disagree {when}: rank 0 holds {own[..12]}, " +
              string.Join(", ", differing.Select(d => $"rank {d.Rank} {d.Digest[..12]}")) + "; the run stops rather than train diverged replicas";
    }

    /// <summary>A rank blocks its device worker while it waits for the others' gradients, so two ranks of one group on
    /// one worker would wait for each other forever. Placement puts each rank on its own slot, but a silo's device
    /// allocator takes turns among every heavy grain, so two ranks on one multi-device silo can still meet.</summary>
    public static string? SharedDevice(string experimentId, string role, GrainPlacement own, IReadOnlyList<GrainPlacement> peers)
    {
        var all = peers.Select((p, i) => (Rank: i + 1, Where: $"{p.Device} on silo {p.Silo}"))
            .Prepend((Rank: 0, Where: $"{own.Device} on silo {own.Silo}")).ToArray();
        return all.GroupBy(p => p.Where).FirstOrDefault(g => g.Count() > 1) is { } shared
            ? $"experiment '{experimentId}': {role} ranks {string.Join(" and ", shared.Select(p => p.Rank))} share device {shared.Key}; each rank needs a device of its own (lower parallel.learners or add devices)"
            : null;
    }
}
