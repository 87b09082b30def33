using System.Collections.Immutable;
using RlhfActors.Abstractions.Tensors;

namespace RlhfActors.Abstractions.Policy;

/// <summary>One published version of an experiment's policy, Hugging Face parameter names: full weights, or under
/// LoRA only the adapter tensors, applied on top of the full version <see cref="BaseVersion"/> (adapter-only weight
/// sync: a new version moves a few MB of adapter, the base moves once per stage).</summary>
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
    /// <summary>−1: <see cref="Weights"/> are the full weights. Otherwise they are LoRA adapter tensors
    /// (…q_proj.lora_A.weight) on top of this full version's weights.</summary>
    [Id(5)] public long BaseVersion { get; init; } = -1;

    /// <summary>Adapter versions: LoRA's α (the update is scaled by α / r; r is the rows of lora_A).</summary>
    [Id(6)] public double AdapterAlpha { get; init; }
    /// <summary>Adapter versions: <see cref="PolicyVersionInfo.Sha256"/> of the base's weights, so a sampler serving
    /// adapters of several experiments can check they were all trained on the base it holds.</summary>
    [Id(7)] public string BaseSha256 { get; init; } = "";

    public bool IsAdapter => BaseVersion >= 0;

    public PolicyVersionInfo Describe() => Describe(PayloadDigest.Sha256(Weights));

    /// <summary>The description with a digest already computed (a registry that just verified it, a publisher that
    /// sends it ahead of the bytes): hashing a large version twice costs seconds.</summary>
    public PolicyVersionInfo Describe(string sha256) => new()
    {
        ExperimentId = ExperimentId,
        Version = Version,
        Step = Step,
        BaseVersion = BaseVersion,
        Tensors = Weights.Length,
        Bytes = Weights.Sum(w => (long)w.Data.Length),
        Sha256 = sha256,
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
    /// <summary>See <see cref="PolicyVersion.BaseVersion"/>: −1 for full weights.</summary>
    [Id(6)] public long BaseVersion { get; init; } = -1;

    public bool IsAdapter => BaseVersion >= 0;
}
