using System.Collections.Immutable;

namespace RlhfActors.Abstractions.Experiments;

/// <summary>The outcome of a completed experiment.</summary>
[GenerateSerializer, Immutable, Alias("rlhf.ExperimentResult")]
public sealed record ExperimentResult
{
    [Id(0)] public string ExperimentId { get; init; } = "";
    [Id(1)] public string Algorithm { get; init; } = "";
    [Id(2)] public int Steps { get; init; }
    /// <summary>Wall time from Start to completion, as the experiment grain measured it.</summary>
    [Id(3)] public double WallSeconds { get; init; }
    [Id(4)] public long TrainTokens { get; init; }
    /// <summary>Training tokens per second of wall time spent in training calls (evaluations and checkpoints excluded).</summary>
    [Id(5)] public double TrainTokensPerSecond { get; init; }
    [Id(6)] public double? FinalLoss { get; init; }
    /// <summary>Held-out accuracy before the trained stage: before training for SFT, after the SFT warm-up for GRPO.</summary>
    [Id(7)] public double AccuracyBefore { get; init; }
    [Id(8)] public double AccuracyAfter { get; init; }
    [Id(9)] public string CheckpointPath { get; init; } = "";
    [Id(10)] public long PolicyVersion { get; init; }
    [Id(11)] public ImmutableArray<EvalSummary> Evals { get; init; } = [];
    /// <summary>GRPO: held-out accuracy before any training (AccuracyBefore is after the SFT warm-up).</summary>
    [Id(12)] public double? AccuracyAtStart { get; init; }
    [Id(13)] public GrpoStats? Grpo { get; init; }
    /// <summary>Each stage of the run so far with its figures (SFT, reward model, PPO / DPO / RLAIF).</summary>
    [Id(14)] public System.Collections.Immutable.ImmutableArray<StageSummary> Stages { get; init; } = [];
    /// <summary>Forgetting watch: one entry per <c>eval.watch</c> task.</summary>
    [Id(15)] public System.Collections.Immutable.ImmutableArray<RetentionSummary> Retention { get; init; } = [];
    /// <summary>RLAIF rounds so far.</summary>
    [Id(16)] public System.Collections.Immutable.ImmutableArray<RlaifRoundSummary> Rounds { get; init; } = [];
}
