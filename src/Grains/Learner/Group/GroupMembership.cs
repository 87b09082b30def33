using RlhfActors.Abstractions.Grains;
using RlhfActors.Abstractions.Learner;

namespace RlhfActors.Grains.Learner.Group;

/// <summary>
/// A grain's place in the group of its role (the critic's, the reward model's): as rank 0 it leads a
/// <see cref="RankGroup{TRank}"/>; as another rank it holds its end of rank 0's exchange; alone, neither. What a rank
/// receives (segments, aborts) goes to whichever it holds. Not thread-safe: the grain's turns call it.
/// </summary>
public sealed class GroupMembership<TRank> where TRank : IGroupRankGrain
{
    GradientExchange? _rankExchange;

    /// <summary>Rank 0's group; null as another rank or alone.</summary>
    public RankGroup<TRank>? Led { get; private set; }

    /// <summary>What this rank's training step sums through: null alone.</summary>
    public GradientExchange? Reducer => Led?.Exchange ?? _rankExchange;

    public void Lead(RankGroup<TRank>? group) => Led = group;

    /// <summary>Takes rank <paramref name="rank"/>'s place in <paramref name="group"/> (rank 0 formed it).</summary>
    public void Join(IGrainFactory grains, LearnerGroup group, int rank) => _rankExchange = RankGroup<TRank>.RankExchange(grains, group, rank);

    /// <summary>Rank 0 after its group failed: the group is gone (RankGroup has released the other ranks).</summary>
    public void Drop() => Led = null;

    /// <summary>Rank 0: releases the other ranks, if any. Another rank: leaves.</summary>
    public async Task DisbandAsync()
    {
        _rankExchange = null;
        if (Led is not { } group) return;
        Led = null;
        await group.DisbandAsync();
    }

    public Task Deliver(GradientSegment segment)
    {
        GradientExchange.DeliverTo(Reducer, segment);
        return Task.CompletedTask;
    }

    public Task Abort(string reason, long committedRound)
    {
        Reducer?.Abort(reason, committedRound);
        return Task.CompletedTask;
    }
}
