using RlhfActors.Abstractions.Messaging;

namespace RlhfActors.Abstractions.Config;

/// <summary>
/// How policy versions travel between the learner, the policy registry and the grains that pull them
/// (<c>weight_sync:</c>): in chunks of <see cref="ChunkBytes"/>, <see cref="Concurrency"/> at a time, and to a
/// sampler that holds an older full version only the elements that changed (<see cref="Delta"/>). None of it changes
/// what is trained: a pulled version is verified by digest before it is used.
/// </summary>
[GenerateSerializer, Immutable, Alias("rlhf.WeightSyncSection")]
public sealed record WeightSyncSection
{
    /// <summary>Smallest chunk: below a few KiB the per-message cost dominates any transfer.</summary>
    public const int MinChunkBytes = 4 * 1024;

    /// <summary>Bytes per chunk message. 4 MiB: a 1 GB policy is 256 messages, whose fixed cost is negligible, while
    /// each stays small for Orleans' connection buffers and the receiver's allocations (in-process runs with 16 and 64
    /// MiB chunks were slower and far less steady; docs/benchmarks.md).</summary>
    [Id(0)] public int ChunkBytes { get; init; } = 4 * 1024 * 1024;
    /// <summary>Chunk messages in flight per transfer (each puller's own; the learner's publication too).</summary>
    [Id(1)] public int Concurrency { get; init; } = 4;
    /// <summary>A sampler that holds an older full version asks for the elements that changed since it, in its compute
    /// dtype (the registry sends a full copy when it no longer holds that version, or per tensor when that is smaller).</summary>
    [Id(2)] public bool Delta { get; init; } = true;

    /// <summary>This section's rules, each naming its YAML field (the one home of the field's validation).</summary>
    public void Validate(ConfigRules rules)
    {
        rules.Check(ChunkBytes is >= MinChunkBytes and <= RlhfLimits.MaxSyncChunkBytes, "weight_sync.chunk_bytes",
            $"must be between {MinChunkBytes} and {RlhfLimits.MaxSyncChunkBytes} (a quarter of the message limit)", ChunkBytes);
        rules.Check(Concurrency is >= 1 and <= 64, "weight_sync.concurrency", "must be between 1 and 64", Concurrency);
    }
}
