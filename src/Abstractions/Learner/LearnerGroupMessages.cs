using System.Collections.Immutable;
using Orleans.Serialization.Buffers;

namespace RlhfActors.Abstractions.Learner;

/// <summary>A data-parallel learner group as its ranks see it: every rank's grain key in rank order (rank 0 is the
/// experiment's learner), the exchange's bucket size, and a generation that changes whenever the group is formed
/// again, so a segment of an earlier formation is never summed into a later one.</summary>
[GenerateSerializer, Immutable, Alias("rlhf.LearnerGroup")]
public sealed record LearnerGroup
{
    [Id(0)] public ImmutableArray<string> Ranks { get; init; } = [];
    [Id(1)] public int BucketBytes { get; init; }
    [Id(2)] public long Generation { get; init; }
}

/// <summary>
/// One segment of a gradient all-reduce between learner ranks: fp32 elements, little-endian bytes. Phase 0
/// (reduce-scatter): a rank's own gradient for the segment's owner to sum. Phase 1 (all-gather): the owner's sum, for
/// every other rank to copy. Immutable: a rank on the same silo gets the very bytes, never a copy.
/// <para>The bytes are a <see cref="PooledBuffer"/>, whose codec writes from and reads into pooled blocks, so the
/// megabytes a step exchanges allocate nothing that the GC must collect (a collection is when TorchSharp 0.107's
/// Scalar finalizer race can strike: docs/torchsharp-on-debian.md). Ownership moves with the message: its codec
/// returns the sender's blocks once written, and the receiver must <see cref="PooledBuffer.Dispose"/> the data
/// once read. One segment is therefore sent once; a sender building several builds each.</para>
/// </summary>
[GenerateSerializer, Immutable, Alias("rlhf.GradientSegment")]
public sealed record GradientSegment
{
    [Id(0)] public long Generation { get; init; }
    /// <summary>The exchange's sequence number within the generation: the n-th sum the group performs.</summary>
    [Id(1)] public long Round { get; init; }
    [Id(2)] public int Phase { get; init; }
    [Id(3)] public int Bucket { get; init; }
    /// <summary>The sending rank.</summary>
    [Id(4)] public int From { get; init; }
    [Id(5)] public PooledBuffer Data { get; init; }
}

/// <summary>A learner's whole state as checkpoint files (relative path → bytes): what a replacement rank copies from
/// rank 0 to join a running group. Immutable: a rank on the same silo gets the very bytes.</summary>
[GenerateSerializer, Immutable, Alias("rlhf.LearnerState")]
public sealed record LearnerState
{
    [Id(0)] public ImmutableSortedDictionary<string, ReadOnlyMemory<byte>> Files { get; init; } =
        ImmutableSortedDictionary<string, ReadOnlyMemory<byte>>.Empty;

    public long Bytes => Files.Values.Sum(f => (long)f.Length);
}
