using System.Collections.Immutable;
using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Messaging;
using RlhfActors.Abstractions.Preference;
using RlhfActors.Abstractions.Rollouts;
using RlhfActors.Abstractions.Tensors;

namespace RlhfActors.Abstractions.Grains;

/// <summary>Scores an experiment's completions (key: experiment id) with the reward the config names: verifiers
/// (exact_match, format), an HTTP endpoint, the experiment's learned reward model (<c>reward_model</c>), or a
/// weighted sum of them. The learned reward model is trained here too (Bradley–Terry on labelled pairs), on the
/// silo's device worker, so it never leaves the grain that serves it.</summary>
[Alias("rlhf.IRewardModelGrain")]
public interface IRewardModelGrain : IGrainWithStringKey
{
    /// <summary>Builds the reward from <c>grpo.rewards</c> / <c>ppo.rewards</c>; idempotent for the same config. A
    /// <c>reward_model</c> term needs the model trained by <see cref="StartTraining"/> first.</summary>
    [Alias("Initialize")]
    Task Initialize(ExperimentConfig config);

    /// <summary>One reward per rollout row, in order, or, when an HTTP reward's server stayed down through its retries,
    /// the outage (<see cref="RewardScores.Unavailable"/>) so the caller can pause instead of failing. Takes the
    /// rollouts as the samplers made them (the rewards read their prompts, completion texts and references). An HTTP
    /// reward may retry for a while: long timeout.</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("Score")]
    Task<RewardScores> Score(RolloutBatchMessage rollouts);

    /// <summary>Builds the reward model — a fresh scalar head on a copy of policy version <see cref="RewardModelInit.Version"/>,
    /// or the trained one in reward_model.init — and its labelled pairs (config's reward_model section); returns the
    /// held-out preference accuracy before training.</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("StartTraining")]
    Task<PreferenceEvalResult> StartTraining(RewardModelInit init);

    /// <summary>Holds the reward model this run's reward-model stage trained and saved to <paramref name="folder"/>: a
    /// no-op while this activation still holds it, else read back from the folder (a resumed run whose reward grain
    /// was lost with its silo).</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("RestoreTrained")]
    Task RestoreTrained(RewardModelInit init, string folder);

    /// <summary>Runs <paramref name="steps"/> Bradley–Terry updates; one metrics record per step.</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("TrainRewardModel")]
    Task<ImmutableArray<RewardModelStepMetrics>> TrainRewardModel(int steps);

    /// <summary>Held-out preference accuracy of the reward model as it stands.</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("EvaluateRewardModel")]
    Task<PreferenceEvalResult> EvaluateRewardModel();

    /// <summary>The trained reward model's config and weights (LlamaForSequenceClassification names), e.g. for a judge.</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("ExportRewardModel")]
    Task<RewardModelExport> ExportRewardModel();

    /// <summary>Writes the reward model as a Hugging Face folder (config.json with num_labels 1, model.safetensors,
    /// the tokenizer's files) that reward_model.init and AutoModelForSequenceClassification read; returns its full
    /// path.</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("SaveRewardModel")]
    Task<string> SaveRewardModel(string directory);

    [Alias("Release")]
    Task Release();
}

/// <summary>The answer to <see cref="IRewardModelGrain.Score"/>: the rewards, or why there are none.</summary>
[GenerateSerializer, Immutable, Alias("rlhf.RewardScores")]
public sealed record RewardScores
{
    [Id(0)] public ImmutableArray<double> Scores { get; init; } = [];
    /// <summary>Null when scored; otherwise the outage (a reward server down through every retry).</summary>
    [Id(1)] public string? Unavailable { get; init; }
    /// <summary>Each reward term's raw (unweighted) scores by name, one per row (the rollout traces record them);
    /// <see cref="Scores"/> is their weighted sum. A name used twice is numbered (<c>format#2</c>).</summary>
    [Id(2)] public ImmutableSortedDictionary<string, ImmutableArray<double>> Components { get; init; } =
        ImmutableSortedDictionary<string, ImmutableArray<double>>.Empty;
}
