using System.Collections.Immutable;

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
}

/// <summary>One optimizer step, as the learner measured it.</summary>
[GenerateSerializer, Immutable, Alias("rlhf.TrainStepMetrics")]
public sealed record TrainStepMetrics
{
    [Id(0)] public int Step { get; init; }
    [Id(1)] public double Loss { get; init; }
    [Id(2)] public double LearningRate { get; init; }
    [Id(3)] public double GradNorm { get; init; }
    [Id(4)] public long Tokens { get; init; }
    [Id(5)] public double Seconds { get; init; }
}

[GenerateSerializer, Immutable, Alias("rlhf.CheckpointRequest")]
public sealed record CheckpointRequest
{
    /// <summary>Folder to create (absolute path, on the learner's silo).</summary>
    [Id(0)] public string Directory { get; init; } = "";
    /// <summary>Written into the checkpoint manifest: config hash, dataset hash, policy version, …</summary>
    [Id(1)] public ImmutableSortedDictionary<string, string> Provenance { get; init; } = ImmutableSortedDictionary<string, string>.Empty;
}

[GenerateSerializer, Immutable, Alias("rlhf.CheckpointResult")]
public sealed record CheckpointResult
{
    [Id(0)] public string Path { get; init; } = "";
    [Id(1)] public int Step { get; init; }
    [Id(2)] public string ManifestSha256 { get; init; } = "";
}
