using RlhfActors.Abstractions.Learner;
using RlhfActors.Abstractions.Messaging;
using RlhfActors.Abstractions.Preference;

namespace RlhfActors.Abstractions.Grains;

/// <summary>
/// A rank of an experiment's PPO critic group (key: <see cref="GrainKeys.CriticRank"/>): what rank 0, the experiment's
/// <see cref="ICriticGrain"/>, asks of the others. A rank holds a whole replica of the value model and its optimizer
/// and trains its rows of each minibatch; rank 0 alone gives values and checkpoints.
/// </summary>
[Alias("rlhf.ICriticRankGrain")]
public interface ICriticRankGrain : IGroupRankGrain
{
    /// <summary>Builds the value model as rank 0 did (the same policy version, the same head seed) and joins
    /// <paramref name="group"/>; returns the digest of its weights, which must be rank 0's.</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("JoinCriticGroup")]
    Task<string> JoinCriticGroup(CriticInit init, LearnerGroup group);

    /// <summary><see cref="JoinCriticGroup"/> from a critic checkpoint (readable from this rank's silo).</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("JoinCriticGroupFromCheckpoint")]
    Task<string> JoinCriticGroupFromCheckpoint(CriticInit init, LearnerGroup group, string checkpointDirectory);

    /// <summary>This rank's share of one critic update (every minibatch of it).</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("TrainRank")]
    Task TrainRank(CriticTrainRequest request);
}
