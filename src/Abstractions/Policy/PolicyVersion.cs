using System.Collections.Immutable;
using RlhfActors.Abstractions.Tensors;

namespace RlhfActors.Abstractions.Policy;

/// <summary>One published version of an experiment's policy: full weights, Hugging Face parameter names.</summary>
[GenerateSerializer, Immutable, Alias("rlhf.PolicyVersion")]
public sealed record PolicyVersion
{
    [Id(0)] public string ExperimentId { get; init; } = "";
    /// <summary>+1 per publication; never reused within an experiment id (a re-run continues the numbering).</summary>
    [Id(1)] public long Version { get; init; }
    /// <summary>Optimizer steps the learner had taken when it exported these weights.</summary>
    [Id(2)] public int Step { get; init; }
    [Id(3)] public ImmutableArray<TensorPayload> Weights { get; init; } = [];
    [Id(4)] public DateTimeOffset PublishedAt { get; init; }

    public PolicyVersionInfo Describe() => new()
    {
        ExperimentId = ExperimentId,
        Version = Version,
        Step = Step,
        Tensors = Weights.Length,
        Bytes = Weights.Sum(w => (long)w.Data.Length),
        Sha256 = PayloadDigest.Sha256(Weights),
    };
}

/// <summary>What a policy version is, without its weights.</summary>
[GenerateSerializer, Immutable, Alias("rlhf.PolicyVersionInfo")]
public sealed record PolicyVersionInfo
{
    [Id(0)] public string ExperimentId { get; init; } = "";
    [Id(1)] public long Version { get; init; }
    [Id(2)] public int Step { get; init; }
    [Id(3)] public int Tensors { get; init; }
    [Id(4)] public long Bytes { get; init; }
    /// <summary><see cref="PayloadDigest.Sha256"/> of the weights.</summary>
    [Id(5)] public string Sha256 { get; init; } = "";
}
