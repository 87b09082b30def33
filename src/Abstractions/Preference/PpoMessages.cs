using System.Collections.Immutable;
using RlhfActors.Abstractions.Rollouts;
using RlhfActors.Abstractions.Sampling;

namespace RlhfActors.Abstractions.Preference;

/// <summary>One PPO update's inputs: the rollouts, one score per sequence (reward model + verifiable rewards), the
/// critic's V_old per completion token, and (KL coefficient &gt; 0) the reference log-probs per row.</summary>
[GenerateSerializer, Immutable, Alias("rlhf.PpoStepRequest")]
public sealed record PpoStepRequest
{
    [Id(0)] public RolloutBatchMessage Rollouts { get; init; } = new();
    [Id(1)] public ImmutableArray<double> Scores { get; init; } = [];
    [Id(2)] public ImmutableArray<float[]> OldValues { get; init; } = [];
    [Id(3)] public ImmutableArray<float[]> ReferenceLogProbs { get; init; }
    [Id(4)] public double LearningRate { get; init; }
}

/// <summary>One PPO policy update; the new version is published when this returns. <see cref="Returns"/> (GAE
/// returns per completion token) are the critic's regression targets.</summary>
[GenerateSerializer, Immutable, Alias("rlhf.PpoStepResult")]
public sealed record PpoStepResult
{
    [Id(0)] public int Step { get; init; }
    [Id(1)] public long PolicyVersion { get; init; }
    [Id(2)] public double Loss { get; init; }
    [Id(3)] public double MeanScore { get; init; }
    [Id(4)] public double MeanKl { get; init; }
    [Id(5)] public double ClipFraction { get; init; }
    [Id(6)] public double GradNorm { get; init; }
    [Id(7)] public long CompletionTokens { get; init; }
    [Id(8)] public double Seconds { get; init; }
    [Id(9)] public ImmutableArray<float[]> Returns { get; init; } = [];
    [Id(10)] public double MeanReturn { get; init; }
    [Id(11)] public long PublishedBytes { get; init; }
}

/// <summary>What the critic starts from: the experiment's model and the policy version whose weights its body copies.</summary>
[GenerateSerializer, Immutable, Alias("rlhf.CriticInit")]
public sealed record CriticInit
{
    [Id(0)] public SamplerInit Model { get; init; } = new();
    [Id(1)] public long Version { get; init; }
}

/// <summary>The critic's regression step on one batch: returns as targets, V_old for value clipping.</summary>
[GenerateSerializer, Immutable, Alias("rlhf.CriticTrainRequest")]
public sealed record CriticTrainRequest
{
    [Id(0)] public RolloutBatchMessage Rollouts { get; init; } = new();
    [Id(1)] public ImmutableArray<float[]> Returns { get; init; } = [];
    [Id(2)] public ImmutableArray<float[]> OldValues { get; init; } = [];
    [Id(3)] public double LearningRate { get; init; }
}

[GenerateSerializer, Immutable, Alias("rlhf.CriticStepResult")]
public sealed record CriticStepResult
{
    [Id(0)] public double ValueLoss { get; init; }
    [Id(1)] public double ClipFraction { get; init; }
    /// <summary>1 − Var(R − V) / Var(R): how much of the returns' variance the critic explains (1 = all).</summary>
    [Id(2)] public double ExplainedVariance { get; init; }
    [Id(3)] public double Seconds { get; init; }
}

/// <summary>What the reward-model stage trains from: the experiment, the learner's config.json, and the policy
/// version whose weights the reward model's body starts from (the SFT model, as in InstructGPT).</summary>
[GenerateSerializer, Immutable, Alias("rlhf.RewardModelInit")]
public sealed record RewardModelInit
{
    [Id(0)] public SamplerInit Model { get; init; } = new();
    [Id(1)] public long Version { get; init; }
}

/// <summary>A trained reward model as it travels to a judge: its own config.json (it need not be the policy's shape
/// when it came from reward_model.init) and its weights.</summary>
[GenerateSerializer, Immutable, Alias("rlhf.RewardModelExport")]
public sealed record RewardModelExport
{
    [Id(0)] public string ModelConfigJson { get; init; } = "";
    [Id(1)] public System.Collections.Immutable.ImmutableArray<Tensors.TensorPayload> Weights { get; init; } = [];
}

/// <summary>What the judge needs: the experiment (its rlaif.judge section) and, for a reward-model judge, the
/// experiment whose <c>RewardModelGrain</c> holds the trained reward model.</summary>
[GenerateSerializer, Immutable, Alias("rlhf.JudgeInit")]
public sealed record JudgeInit
{
    [Id(0)] public SamplerInit Model { get; init; } = new();
}
