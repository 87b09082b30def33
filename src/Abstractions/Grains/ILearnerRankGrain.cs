using Orleans.Concurrency;
using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Learner;
using RlhfActors.Abstractions.Messaging;
using RlhfActors.Abstractions.Preference;
using RlhfActors.Abstractions.Rollouts;

namespace RlhfActors.Abstractions.Grains;

/// <summary>
/// A rank of an experiment's data-parallel learner group (key: <see cref="GrainKeys.LearnerRank"/>): what rank 0, the
/// experiment's <see cref="ILearnerGrain"/>, asks of the others, and what ranks send each other. A rank holds a full
/// replica of the model and optimizer; it trains its shard of each batch, and never publishes or checkpoints (rank 0
/// does, for the group, since every rank holds the same weights).
/// </summary>
[Alias("rlhf.ILearnerRankGrain")]
public interface ILearnerRankGrain : IGrainWithStringKey
{
    /// <summary>Builds the model, data and optimizer as rank 0 did and joins <paramref name="group"/>; returns the
    /// digest of the initial weights, which must be rank 0's.</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("JoinGroup")]
    Task<string> JoinGroup(ExperimentConfig config, LearnerGroup group);

    /// <summary><see cref="JoinGroup"/>, then the state of a checkpoint folder (readable from this rank's silo).</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("JoinGroupFromCheckpoint")]
    Task<string> JoinGroupFromCheckpoint(ExperimentConfig config, LearnerGroup group, string checkpointDirectory);

    /// <summary>Joins <paramref name="group"/> as a replacement: restores <paramref name="state"/>, rank 0's state
    /// copied as checkpoint files, so it continues exactly where the group stands.</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("JoinGroupFromState")]
    Task<string> JoinGroupFromState(ExperimentConfig config, LearnerGroup group, LearnerState state);

    /// <summary>Keeps this rank's state and takes its place in <paramref name="group"/>, the group formed again after
    /// a rank was lost; returns the digest of its weights.</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("Regroup")]
    Task<string> Regroup(LearnerGroup group);

    /// <summary>This rank's share of <paramref name="steps"/> SFT steps.</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("TrainRankSteps")]
    Task TrainRankSteps(int steps);

    /// <summary>Starts the GRPO, DPO or PPO stage ("grpo", "dpo", "ppo") on the current weights, at rank 0's policy version.</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("StartRankStage")]
    Task StartRankStage(string stage, long policyVersion);

    /// <summary>This rank's share of one GRPO update; <paramref name="policyVersion"/> is rank 0's version before it
    /// (a republication moves it), so every rank judges the batch's staleness alike.</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("GrpoRankStep")]
    Task GrpoRankStep(GrpoStepRequest request, long policyVersion);

    /// <summary>This rank's share of one PPO policy update (every minibatch of it); <paramref name="policyVersion"/>
    /// as for <see cref="GrpoRankStep"/>.</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("PpoRankStep")]
    Task PpoRankStep(PpoStepRequest request, long policyVersion);

    /// <summary>This rank's share of one DPO-family update.</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("DpoRankStep")]
    Task DpoRankStep(DpoStepRequest request);

    /// <summary>SHA-256 of this rank's weights: ranks compare them every <c>parallel.digest_every</c> steps.</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("GetWeightsDigest")]
    Task<string> GetWeightsDigest();

    /// <summary>A segment of a gradient exchange from another rank. Interleaves with the call this rank is in (it
    /// arrives while the rank's own step waits for it) and only stores the segment.</summary>
    [AlwaysInterleave, Alias("Deliver")]
    Task Deliver(GradientSegment segment);

    /// <summary>The group cannot finish its current exchange (a rank failed): waits for segments end with an error
    /// naming <paramref name="reason"/>, and this rank applies no update after round <paramref name="committedRound"/>,
    /// the last one rank 0 committed (which every surviving rank applies).</summary>
    [AlwaysInterleave, Alias("AbortExchange")]
    Task AbortExchange(string reason, long committedRound);

    /// <summary>Frees the model and leaves the group.</summary>
    [Alias("LeaveGroup")]
    Task LeaveGroup();
}
