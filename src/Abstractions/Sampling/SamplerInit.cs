using RlhfActors.Abstractions.Config;

namespace RlhfActors.Abstractions.Sampling;

/// <summary>What a rollout sampler needs to hold a policy copy and score held-out examples.</summary>
[GenerateSerializer, Immutable, Alias("rlhf.SamplerInit")]
public sealed record SamplerInit
{
    [Id(0)] public ExperimentConfig Config { get; init; } = new();
    /// <summary>The learner's resolved config.json, so the sampler builds the same architecture.</summary>
    [Id(1)] public string ModelConfigJson { get; init; } = "";
}
