using System.Collections.Immutable;
using RlhfActors.Abstractions.Tensors;

namespace RlhfActors.Abstractions.Policy;

/// <summary>Which bytes of a policy version a transfer carries: the version, the dtype its weights travel in, and the
/// version the receiver already holds, when only what changed since it travels.</summary>
[GenerateSerializer, Immutable, Alias("rlhf.PolicyTransferKey")]
public sealed record PolicyTransferKey
{
    [Id(0)] public long Version { get; init; }
    /// <summary>"": the weights as published. "F32" or "BF16" (safetensors' names): a full-weights version's floating
    /// tensors rounded to that dtype, as a sampler that computes in it holds them. Adapter versions always travel as
    /// published.</summary>
    [Id(1)] public string DType { get; init; } = "";
    /// <summary>−1: the whole version. Otherwise a full-weights version the receiver holds in <see cref="DType"/>:
    /// only the elements that changed since it travel (delta sync).</summary>
    [Id(2)] public long FromVersion { get; init; } = -1;
}

/// <summary>How one tensor travels in a transfer: whole, as its changed elements, or not at all (unchanged since the
/// version the receiver holds).</summary>
public enum TransferChange { Full, Sparse, Unchanged }

/// <summary>One tensor of a <see cref="PolicyTransfer"/>. Its bytes follow the previous tensor's in the transfer's
/// byte stream: Full, the tensor (little-endian, row-major); Sparse, <see cref="Elements"/> int32 element indices
/// (ascending, little-endian), then as many element values; Unchanged, none.</summary>
[GenerateSerializer, Immutable, Alias("rlhf.TransferTensor")]
public sealed record TransferTensor
{
    [Id(0)] public string Name { get; init; } = "";
    [Id(1)] public string DType { get; init; } = "";
    [Id(2)] public ImmutableArray<long> Shape { get; init; } = [];
    [Id(3)] public TransferChange Change { get; init; }
    /// <summary>Sparse: the changed elements.</summary>
    [Id(4)] public int Elements { get; init; }
    /// <summary>This tensor's bytes in the stream.</summary>
    [Id(5)] public long Bytes { get; init; }
}

/// <summary>
/// A policy version's manifest for a chunked transfer (issue 16): what the version is, how each tensor travels, and
/// the digest of the weights the receiver rebuilds. The bytes follow as chunks of one stream, the tensors' in order
/// (<see cref="TransferTensor"/>), each chunk a byte range of it; the receiver assembles them in a staging buffer and
/// uses nothing before the rebuilt weights hash to <see cref="Sha256"/>. A publisher sends one to the registry ahead
/// of a new version's chunks (<see cref="Key"/>.DType "", every tensor Full).
/// </summary>
[GenerateSerializer, Immutable, Alias("rlhf.PolicyTransfer")]
public sealed record PolicyTransfer
{
    /// <summary>The version as published (its <see cref="PolicyVersionInfo.Sha256"/> is the published weights').</summary>
    [Id(0)] public PolicyVersionInfo Info { get; init; } = new();
    /// <summary>What this transfer carries; <see cref="PolicyTransferKey.FromVersion"/> is −1 when the registry sends
    /// the whole version although a delta was asked for (it no longer holds the receiver's version).</summary>
    [Id(1)] public PolicyTransferKey Key { get; init; } = new();
    [Id(2)] public ImmutableArray<TransferTensor> Tensors { get; init; } = [];
    /// <summary><see cref="PayloadDigest.Sha256"/> of the weights rebuilt, in <see cref="Key"/>'s dtype: the
    /// published digest when they travel as published.</summary>
    [Id(3)] public string Sha256 { get; init; } = "";
    /// <summary>Bytes of the rebuilt weights: what a whole copy in <see cref="Key"/>'s dtype moves.</summary>
    [Id(4)] public long FullBytes { get; init; }
    /// <summary>Adapter versions: <see cref="PolicyVersion.AdapterAlpha"/>.</summary>
    [Id(5)] public double AdapterAlpha { get; init; }
    /// <summary>Adapter versions: <see cref="PolicyVersion.BaseSha256"/>.</summary>
    [Id(6)] public string BaseSha256 { get; init; } = "";
    [Id(7)] public DateTimeOffset PublishedAt { get; init; }

    /// <summary>Bytes of the stream: what this transfer moves.</summary>
    public long StreamBytes => Tensors.Sum(t => t.Bytes);

    public bool IsDelta => Key.FromVersion >= 0;
}

/// <summary>A byte range of a transfer's stream, starting at <see cref="Offset"/>. Immutable, so a chunk handed
/// between grains of one silo is not copied: nobody may write into <see cref="Data"/>.</summary>
[GenerateSerializer, Immutable, Alias("rlhf.PolicyChunk")]
public sealed record PolicyChunk
{
    [Id(0)] public long Offset { get; init; }
    [Id(1)] public ReadOnlyMemory<byte> Data { get; init; }
}
