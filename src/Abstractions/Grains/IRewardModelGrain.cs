using System.Collections.Immutable;
using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Messaging;
using RlhfActors.Abstractions.Rollouts;

namespace RlhfActors.Abstractions.Grains;

/// <summary>Scores an experiment's completions (key: experiment id) with the reward the config names: verifiers
/// (exact_match, format), an HTTP endpoint, or a weighted sum of them.</summary>
[Alias("rlhf.IRewardModelGrain")]
public interface IRewardModelGrain : IGrainWithStringKey
{
    /// <summary>Builds the reward from <c>grpo.rewards</c>; idempotent for the same config.</summary>
    [Alias("Initialize")]
    Task Initialize(ExperimentConfig config);

    /// <summary>One reward per completion, in order. An HTTP reward may retry for a while: long timeout.</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("Score")]
    Task<ImmutableArray<double>> Score(RewardBatch batch);

    [Alias("Release")]
    Task Release();
}
