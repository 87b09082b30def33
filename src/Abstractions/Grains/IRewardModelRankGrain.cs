using RlhfActors.Abstractions.Learner;
using RlhfActors.Abstractions.Messaging;
using RlhfActors.Abstractions.Preference;

namespace RlhfActors.Abstractions.Grains;

/// <summary>
/// A rank of an experiment's reward-model group (key: <see cref="GrainKeys.RewardModelRank"/>), while the reward-model
/// stage trains: what rank 0, the experiment's <see cref="IRewardModelGrain"/>, asks of the others. A rank holds a
/// whole replica of the reward model, its optimizer and its pair order, and trains its pairs of each batch; rank 0
/// alone evaluates, saves and scores, and releases the others when the stage saves the model.
/// </summary>
[Alias("rlhf.IRewardModelRankGrain")]
public interface IRewardModelRankGrain : IGroupRankGrain
{
    /// <summary>Builds the reward model as rank 0 did (the same policy version or trained folder, the same head seed
    /// and pairs) and joins <paramref name="group"/>; returns the digest of its weights.</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("JoinRewardModelGroup")]
    Task<string> JoinRewardModelGroup(RewardModelInit init, string? trainedFolder, LearnerGroup group);

    /// <summary>This rank's share of <paramref name="steps"/> reward-model steps.</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("TrainRewardModelRank")]
    Task TrainRewardModelRank(int steps);
}
