namespace RlhfActors.Abstractions;

/// <summary>
/// How grains of one experiment are keyed. The experiment, its learner (rank 0 of its learner group) and its policy
/// registry share the experiment id; samplers are "&lt;experiment id&gt;/sampler-&lt;index&gt;" and further learner ranks
/// "&lt;experiment id&gt;/learner-&lt;rank&gt;", so one experiment can hold many.
/// </summary>
public static class GrainKeys
{
    const string SamplerSeparator = "/sampler-";
    const string LearnerRankSeparator = "/learner-";
    const string CriticRankSeparator = "/critic-";
    const string RewardModelRankSeparator = "/reward-model-";

    /// <summary>The one experiment directory of a cluster (<c>IExperimentDirectoryGrain</c>).</summary>
    public const string ExperimentDirectory = "experiments";

    public static string Sampler(string experimentId, int index) => $"{experimentId}{SamplerSeparator}{index}";

    /// <summary>Member <paramref name="member"/> of an experiment's learner group: member 0 is the experiment's learner
    /// itself (keyed by the experiment id, which the controller calls) and always rank 0; the others are
    /// "&lt;experiment id&gt;/learner-&lt;member&gt;", numbered as they join (a replacement gets a new number), so a
    /// member's number is its rank only until the group first re-forms.</summary>
    public static string LearnerRank(string experimentId, int member) =>
        member == 0 ? experimentId : $"{experimentId}{LearnerRankSeparator}{member}";

    /// <summary>The experiment id and member number of a learner key (an experiment id alone is member 0).</summary>
    public static (string ExperimentId, int Member) OfLearner(string learnerKey)
    {
        var at = learnerKey.LastIndexOf(LearnerRankSeparator, StringComparison.Ordinal);
        return at > 0 && int.TryParse(learnerKey.AsSpan(at + LearnerRankSeparator.Length), out var rank) && rank > 0
            ? (learnerKey[..at], rank)
            : (learnerKey, 0);
    }

    /// <summary>Rank <paramref name="rank"/> of an experiment's PPO critic group: rank 0 is the experiment's critic itself
    /// (keyed by the experiment id), the others "&lt;experiment id&gt;/critic-&lt;rank&gt;".</summary>
    public static string CriticRank(string experimentId, int rank) =>
        rank == 0 ? experimentId : $"{experimentId}{CriticRankSeparator}{rank}";

    /// <summary>The experiment id and rank of a critic key (an experiment id alone is rank 0).</summary>
    public static (string ExperimentId, int Rank) OfCritic(string criticKey) => OfRank(criticKey, CriticRankSeparator);

    /// <summary>Rank <paramref name="rank"/> of an experiment's reward-model group: rank 0 is the experiment's reward
    /// model itself, the others "&lt;experiment id&gt;/reward-model-&lt;rank&gt;".</summary>
    public static string RewardModelRank(string experimentId, int rank) =>
        rank == 0 ? experimentId : $"{experimentId}{RewardModelRankSeparator}{rank}";

    /// <summary>The experiment id and rank of a reward-model key (an experiment id alone is rank 0).</summary>
    public static (string ExperimentId, int Rank) OfRewardModel(string key) => OfRank(key, RewardModelRankSeparator);

    static (string ExperimentId, int Rank) OfRank(string key, string separator)
    {
        var at = key.LastIndexOf(separator, StringComparison.Ordinal);
        return at > 0 && int.TryParse(key.AsSpan(at + separator.Length), out var rank) && rank > 0
            ? (key[..at], rank)
            : (key, 0);
    }

    /// <summary>The experiment id of a sampler key.</summary>
    public static string ExperimentOfSampler(string samplerKey)
    {
        var at = samplerKey.LastIndexOf(SamplerSeparator, StringComparison.Ordinal);
        if (at <= 0) throw new ArgumentException($"'{samplerKey}' is not a sampler key (<experiment>{SamplerSeparator}<n>)", nameof(samplerKey));
        return samplerKey[..at];
    }

    /// <summary>The teacher grain of a model folder: keyed by what the weights are (the SHA-256 of the folder's files)
    /// and the dtype they are computed in, not by experiment or path, so every experiment distilling from the same
    /// teacher shares one activation, and a changed folder is a new teacher.</summary>
    public static string Teacher(string sha256, string dtype) => $"teacher/{dtype}/{sha256}";
}
