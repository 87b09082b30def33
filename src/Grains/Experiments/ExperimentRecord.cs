using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Experiments;
using RlhfActors.Abstractions.Learner;
using RlhfActors.Abstractions.Sampling;

namespace RlhfActors.Grains.Experiments;

/// <summary>An experiment grain's persisted state: enough to answer status after a re-activation, and the cursor of
/// its plan (stage, started, the stage's state) to continue from when its learner survived; when it did not, the
/// newest checkpoint holds the cursor of its step.</summary>
[GenerateSerializer, Alias("rlhf.ExperimentRecord")]
public sealed class ExperimentRecord
{
    [Id(0)] public ExperimentConfig? Config { get; set; }
    [Id(1)] public ExperimentStatus Status { get; set; } = new();
    [Id(2)] public ExperimentResult? Result { get; set; }
    [Id(3)] public List<EvalSummary> Evals { get; set; } = [];
    [Id(4)] public DateTimeOffset? StartedAt { get; set; }
    [Id(5)] public DateTimeOffset? FinishedAt { get; set; }
    [Id(6)] public long TrainTokens { get; set; }
    /// <summary>Wall seconds spent in training calls, as this grain measured them.</summary>
    [Id(7)] public double TrainSeconds { get; set; }
    [Id(8)] public LearnerInfo? Learner { get; set; }
    [Id(9)] public SamplerInit? SamplerInit { get; set; }
    [Id(10)] public int PublishedStep { get; set; } = -1;
    /// <summary>GRPO runs: held-out accuracy before the SFT warm-up.</summary>
    [Id(11)] public double? AccuracyAtStart { get; set; }
    /// <summary>Finished stages with their figures, in order (the running stage is added when it ends).</summary>
    [Id(12)] public List<StageSummary> Stages { get; set; } = [];
    [Id(13)] public List<RlaifRoundSummary> Rounds { get; set; } = [];
    /// <summary>Forgetting watch: every evaluation of each watched task, by name, the first one before training.</summary>
    [Id(14)] public Dictionary<string, List<EvalSummary>> Watched { get; set; } = [];
    /// <summary>When the running stage started, for its summary's seconds.</summary>
    [Id(15)] public DateTimeOffset? StageStartedAt { get; set; }
    /// <summary>The policy step the running stage started at (its summary counts the steps since).</summary>
    [Id(16)] public int StageStartStep { get; set; }
    /// <summary>The running stage's index in the plan (<c>ExperimentPlan</c>); the plan's length once all are done.</summary>
    [Id(17)] public int StageIndex { get; set; }
    [Id(18)] public bool StageStarted { get; set; }
    /// <summary>The running stage's state after the last tick (<c>ExperimentStage.SaveState</c>).</summary>
    [Id(19)] public string StageState { get; set; } = "";
    /// <summary>The length of <c>metrics.jsonl</c> after the last line written (a resume cuts it back to this).</summary>
    [Id(20)] public long MetricsBytes { get; set; }
    /// <summary>The rollout trace file being written (1-based; 0: none yet) and its length after the last record (a
    /// resume deletes the later files and cuts this one back).</summary>
    [Id(21)] public int TraceFile { get; set; }
    [Id(22)] public long TraceBytes { get; set; }
}
