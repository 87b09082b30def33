namespace RlhfActors.Abstractions.Experiments;

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
    /// <summary>Every evaluation so far, oldest first (a few per run), so a display polling now and then misses none.</summary>
    [Id(17)] public System.Collections.Immutable.ImmutableArray<EvalSummary> Evals { get; init; } = [];
    [Id(15)] public string? CheckpointPath { get; init; }
    [Id(16)] public string? Error { get; init; }
    /// <summary>"sft" or "grpo": the stage the step counter is in.</summary>
    [Id(18)] public string Stage { get; init; } = "sft";
    /// <summary>GRPO totals so far; null before the GRPO stage.</summary>
    [Id(19)] public GrpoStats? Grpo { get; init; }

    /// <summary>Each stage of the run so far with its figures (SFT, reward model, PPO / DPO / RLAIF).</summary>
    [Id(20)] public System.Collections.Immutable.ImmutableArray<StageSummary> Stages { get; init; } = [];
    /// <summary>Forgetting watch: one entry per <c>eval.watch</c> task.</summary>
    [Id(21)] public System.Collections.Immutable.ImmutableArray<RetentionSummary> Retention { get; init; } = [];
    /// <summary>RLAIF rounds so far.</summary>
    [Id(22)] public System.Collections.Immutable.ImmutableArray<RlaifRoundSummary> Rounds { get; init; } = [];
    /// <summary>How often the run was resumed from a checkpoint after losing a worker (a silo died, the controller was
    /// re-activated) or after <c>rlhf resume</c> of a failed run.</summary>
    [Id(23)] public int Resumes { get; init; }
    /// <summary>The step the latest resume continued from (its checkpoint's step; 0: from the start); null if never
    /// resumed.</summary>
    [Id(24)] public int? ResumedFromStep { get; init; }
    /// <summary>The rollout traces reached <c>trace_max_mb</c>: later batches are not traced.</summary>
    [Id(25)] public bool TraceCapReached { get; init; }

    public bool IsFinished => State is ExperimentState.Completed or ExperimentState.Failed or ExperimentState.Stopped;
}
