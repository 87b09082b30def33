using Orleans.Concurrency;
using RlhfActors.Abstractions.Learner;
using RlhfActors.Abstractions.Messaging;
using RlhfActors.Abstractions.Placement;

namespace RlhfActors.Abstractions.Grains;

/// <summary>
/// What every rank of a data-parallel group of a role other than the policy's learner (the PPO critic, the reward
/// model) answers: the exchange's messages, its weights' digest and placement for rank 0's checks, and leaving. The
/// role's own interface adds how a rank joins and trains.
/// </summary>
[Alias("rlhf.IGroupRankGrain")]
public interface IGroupRankGrain : IGrainWithStringKey
{
    /// <summary>A segment of a gradient exchange from another rank (see <see cref="ILearnerRankGrain.Deliver"/>).</summary>
    [AlwaysInterleave, Alias("Deliver")]
    Task Deliver(GradientSegment segment);

    /// <summary>The group cannot finish its current exchange (see <see cref="ILearnerRankGrain.AbortExchange"/>).</summary>
    [AlwaysInterleave, Alias("AbortExchange")]
    Task AbortExchange(string reason, long committedRound);

    /// <summary>SHA-256 of this rank's weights.</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("GetRankDigest")]
    Task<string> GetRankDigest();

    /// <summary>Where this rank runs (silo and device worker).</summary>
    [Alias("GetRankPlacement")]
    Task<GrainPlacement> GetRankPlacement();

    /// <summary>Frees the model and leaves the group.</summary>
    [Alias("LeaveRankGroup")]
    Task LeaveRankGroup();
}
