using System.Collections.Immutable;
using RlhfActors.Abstractions.Sampling;

namespace RlhfActors.Abstractions.Rollouts;

/// <summary>A prompt to sample from and, for verifiable rewards, its reference answer; <see cref="Columns"/> holds the
/// prompt line's other fields (a JSON object) for the reward functions.</summary>
[GenerateSerializer, Immutable, Alias("rlhf.PromptItem")]
public sealed record PromptItem(
    [property: Id(0)] string Prompt,
    [property: Id(1)] string? Reference,
    [property: Id(2)] string? Columns = null);

/// <summary>The controller's order to a sampler: G completions for each prompt of its shard, with policy version
/// <see cref="MinVersion"/> or newer.</summary>
[GenerateSerializer, Immutable, Alias("rlhf.RolloutRequest")]
public sealed record RolloutRequest
{
    /// <summary>0-based GRPO step the rollouts are for.</summary>
    [Id(0)] public int Step { get; init; }
    [Id(1)] public int Shard { get; init; }
    [Id(2)] public ImmutableArray<PromptItem> Prompts { get; init; } = [];
    [Id(3)] public int GroupSize { get; init; }
    [Id(4)] public int MaxNewTokens { get; init; }
    [Id(5)] public double Temperature { get; init; } = 1.0;
    [Id(6)] public int Seed { get; init; }
    [Id(7)] public long MinVersion { get; init; }
}

/// <summary>What the reference grain holds: the experiment's model and the policy version it froze.</summary>
[GenerateSerializer, Immutable, Alias("rlhf.ReferenceInit")]
public sealed record ReferenceInit
{
    [Id(0)] public SamplerInit Model { get; init; } = new();
    [Id(1)] public long Version { get; init; }
    /// <summary>A checkpoint folder holding the same weights as <see cref="Version"/>: where a resumed run's reference
    /// comes from once the policy registry no longer holds the version (it lost it with its silo). Empty: none.</summary>
    [Id(2)] public string Checkpoint { get; init; } = "";
}

/// <summary>One GRPO update's inputs: the rollouts, their rewards and (β &gt; 0) the reference log-probs per row.</summary>
[GenerateSerializer, Immutable, Alias("rlhf.GrpoStepRequest")]
public sealed record GrpoStepRequest
{
    [Id(0)] public RolloutBatchMessage Rollouts { get; init; } = new();
    [Id(1)] public ImmutableArray<double> Rewards { get; init; } = [];
    /// <summary>Default (not empty) when β = 0: the reference is not asked.</summary>
    [Id(2)] public ImmutableArray<float[]> ReferenceLogProbs { get; init; }
    [Id(3)] public double LearningRate { get; init; }
    /// <summary>Each reward term's unweighted scores [K][B] in the config's term order; default unless
    /// <c>grpo.multi_objective_aggregation</c> is normalize_then_sum (the learner normalises each term).</summary>
    [Id(4)] public ImmutableArray<ImmutableArray<double>> RewardComponents { get; init; }
}

/// <summary>One GRPO update as the learner measured it; the new version is already published when this returns.</summary>
[GenerateSerializer, Immutable, Alias("rlhf.GrpoStepResult")]
public sealed record GrpoStepResult
{
    /// <summary>Global step (SFT warm-up steps + GRPO steps).</summary>
    [Id(0)] public int Step { get; init; }
    [Id(1)] public long PolicyVersion { get; init; }
    [Id(2)] public double Loss { get; init; }
    [Id(3)] public double MeanReward { get; init; }
    [Id(4)] public double? MeanKl { get; init; }
    [Id(5)] public double ClipFraction { get; init; }
    [Id(6)] public double GradNorm { get; init; }
    [Id(7)] public int Sequences { get; init; }
    [Id(8)] public long CompletionTokens { get; init; }
    /// <summary>Update time on the learner's device worker (publication excluded).</summary>
    [Id(9)] public double Seconds { get; init; }
    [Id(10)] public long Staleness { get; init; }
    [Id(11)] public bool Dropped { get; init; }
    [Id(12)] public bool ImportanceCorrected { get; init; }
    /// <summary>Bytes of the weights published after this update (0 when dropped): the whole policy, or under LoRA
    /// only the adapter.</summary>
    [Id(13)] public long PublishedBytes { get; init; }
    /// <summary>The GRPO variants' own figures by their metrics.jsonl names: the sampler–learner mismatch the
    /// correction measured (sampling/*) and the share off-policy sequence masking left out; empty when both are off.</summary>
    [Id(14)] public ImmutableSortedDictionary<string, double> Logged { get; init; } = ImmutableSortedDictionary<string, double>.Empty;
}
