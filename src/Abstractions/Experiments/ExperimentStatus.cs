using System.Collections.Immutable;

namespace RlhfActors.Abstractions.Experiments;

public enum ExperimentState
{
    /// <summary>Never started (or a fresh grain).</summary>
    Pending,
    Running,
    Completed,
    Failed,
    /// <summary>Stopped on request before the end (<c>IExperimentGrain.Stop</c>).</summary>
    Stopped,
}

/// <summary>A snapshot of a running or finished experiment, for progress displays.</summary>
[GenerateSerializer, Immutable, Alias("rlhf.ExperimentStatus")]
public sealed record ExperimentStatus
{
    [Id(0)] public string ExperimentId { get; init; } = "";
    [Id(1)] public string Algorithm { get; init; } = "";
    [Id(2)] public ExperimentState State { get; init; }
    /// <summary>What the experiment is doing now: initializing, training, evaluating, checkpointing, done.</summary>
    [Id(3)] public string Phase { get; init; } = "";
    [Id(4)] public int Step { get; init; }
    [Id(5)] public int TotalSteps { get; init; }
    [Id(6)] public long PolicyVersion { get; init; } = -1;
    [Id(7)] public double? LastLoss { get; init; }
    [Id(8)] public double? LearningRate { get; init; }
    /// <summary>Training tokens per second of wall time spent in training calls (evaluations excluded).</summary>
    [Id(9)] public double? TokensPerSecond { get; init; }
    [Id(10)] public TimeSpan Elapsed { get; init; }
    [Id(11)] public TimeSpan? Eta { get; init; }
    [Id(12)] public double? AccuracyBefore { get; init; }
    [Id(13)] public double? AccuracyAfter { get; init; }
    [Id(14)] public EvalSummary? LatestEval { get; init; }
    [Id(15)] public string? CheckpointPath { get; init; }
    [Id(16)] public string? Error { get; init; }

    public bool IsFinished => State is ExperimentState.Completed or ExperimentState.Failed or ExperimentState.Stopped;
}

/// <summary>One held-out evaluation of one policy version.</summary>
[GenerateSerializer, Immutable, Alias("rlhf.EvalSummary")]
public sealed record EvalSummary
{
    [Id(0)] public long PolicyVersion { get; init; }
    [Id(1)] public int Step { get; init; }
    [Id(2)] public int Examples { get; init; }
    [Id(3)] public int Correct { get; init; }
    [Id(4)] public double Accuracy { get; init; }
    [Id(5)] public double Seconds { get; init; }
}

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
    [Id(7)] public double AccuracyBefore { get; init; }
    [Id(8)] public double AccuracyAfter { get; init; }
    [Id(9)] public string CheckpointPath { get; init; } = "";
    [Id(10)] public long PolicyVersion { get; init; }
    [Id(11)] public ImmutableArray<EvalSummary> Evals { get; init; } = [];
}
