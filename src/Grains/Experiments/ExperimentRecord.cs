using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Experiments;
using RlhfActors.Abstractions.Learner;
using RlhfActors.Abstractions.Sampling;

namespace RlhfActors.Grains.Experiments;

/// <summary>An experiment grain's persisted state: enough to answer status after a re-activation, and the start of
/// resuming from checkpoints (not implemented yet: a run interrupted by a re-activation is marked failed).</summary>
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
}
