namespace RlhfActors.Abstractions.Learner;

/// <summary>What a learner reports once it holds its model and data.</summary>
[GenerateSerializer, Immutable, Alias("rlhf.LearnerInfo")]
public sealed record LearnerInfo
{
    /// <summary>The policy's Hugging Face config.json (vocab size filled in): samplers build the same architecture from it.</summary>
    [Id(0)] public string ModelConfigJson { get; init; } = "";
    [Id(1)] public int TrainExamples { get; init; }
    [Id(2)] public int EvalExamples { get; init; }
    /// <summary>SHA-256 of the resolved train and held-out examples, recorded in checkpoint provenance.</summary>
    [Id(3)] public string DatasetSha256 { get; init; } = "";
    [Id(4)] public int StepsDone { get; init; }
    /// <summary>After a resume: the controller's cursor the checkpoint was written with (JSON; empty when it holds
    /// none, as a checkpoint written by a shutting-down learner of an older version).</summary>
    [Id(5)] public string ControllerState { get; init; } = "";
    /// <summary>The SHA-256 of the run's input files by config field (JSON; see the Grains' InputDigests), recorded
    /// in checkpoint provenance.</summary>
    [Id(6)] public string InputsSha256Json { get; init; } = "";
}
