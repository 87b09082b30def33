using System.Collections.Immutable;

namespace RlhfActors.Abstractions.Rollouts;

/// <summary>One row of a multi-adapter batch: a prompt and whose adapter generates it — the newest adapter version
/// published by <see cref="ExperimentId"/>, or the bare base when null.</summary>
[GenerateSerializer, Immutable, Alias("rlhf.AdapterRow")]
public sealed record AdapterRow([property: Id(0)] string Prompt, [property: Id(1)] string? ExperimentId);

/// <summary>Rows that each name their adapter, generated in one batch on one base (multi-LoRA serving).</summary>
[GenerateSerializer, Immutable, Alias("rlhf.AdapterGenerationRequest")]
public sealed record AdapterGenerationRequest
{
    [Id(0)] public ImmutableArray<AdapterRow> Rows { get; init; } = [];
    [Id(1)] public int MaxNewTokens { get; init; } = 16;
    /// <summary>0: greedy.</summary>
    [Id(2)] public double Temperature { get; init; }
    [Id(3)] public long Seed { get; init; }
}

[GenerateSerializer, Immutable, Alias("rlhf.AdapterGenerationResult")]
public sealed record AdapterGenerationResult
{
    /// <summary>Generated token ids per row (the stop token included when one was produced).</summary>
    [Id(0)] public ImmutableArray<int[]> CompletionIds { get; init; } = [];
    [Id(1)] public ImmutableArray<float[]> LogProbs { get; init; } = [];
    /// <summary>The adapter version each named experiment contributed.</summary>
    [Id(2)] public ImmutableSortedDictionary<string, long> AdapterVersions { get; init; } = ImmutableSortedDictionary<string, long>.Empty;
    /// <summary>Sha256 of the base every row ran on.</summary>
    [Id(3)] public string BaseSha256 { get; init; } = "";
}
