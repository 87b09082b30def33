using System.Collections.Immutable;
using System.Runtime.InteropServices;
using RlhfActors.Abstractions.Policy;
using RlhfActors.Abstractions.Tensors;
using RlhfActors.Training.IO;
using RlhfActors.Training.Weights;

namespace RlhfActors.Grains.Policy;

/// <summary>
/// A <see cref="PolicyTransfer"/>'s two halves, built and taken apart: the tensor list of the manifest and the byte
/// stream its chunks cut (whole tensors back to back; a delta's indices and values), and the weights a received stream
/// rebuilds. Training's <see cref="TensorDelta"/> ⇄ the wire's <see cref="TransferTensor"/> happens here, once.
/// </summary>
public static class PolicyTransfers
{
    /// <summary>A version as published, whole: what a publisher announces ahead of its chunks, and what the registry
    /// sends for an as-published pull (adapters, the reference, the critic).</summary>
    public static PolicyTransfer Whole(PolicyVersion version, PolicyVersionInfo info) => new()
    {
        Info = info,
        Key = new PolicyTransferKey { Version = version.Version },
        Tensors = [.. version.Weights.Select(w => Full(w.Name, w.DType, w.Shape, w.Data.Length))],
        Sha256 = info.Sha256,
        FullBytes = info.Bytes,
        AdapterAlpha = version.AdapterAlpha,
        BaseSha256 = version.BaseSha256,
        PublishedAt = version.PublishedAt,
    };

    /// <summary>The stream of whole tensors: their bytes back to back, not copied.</summary>
    public static SegmentedBytes Stream(IEnumerable<TensorPayload> tensors) => new(tensors.Select(t => t.Data));

    /// <summary>Weights whole (a version in a sampler's dtype): the manifest's tensors and the stream.</summary>
    public static (ImmutableArray<TransferTensor> Tensors, SegmentedBytes Stream) Whole(IReadOnlyList<TensorBytes> weights) =>
        ([.. weights.Select(w => Full(w.Name, w.DType, [.. w.Shape], w.Data.Length))], new(weights.Select(w => new ReadOnlyMemory<byte>(w.Data))));

    /// <summary>A delta: per tensor nothing, its changed elements' indices then values, or the whole tensor.</summary>
    public static (ImmutableArray<TransferTensor> Tensors, SegmentedBytes Stream) Delta(IReadOnlyList<TensorDelta> delta)
    {
        var tensors = delta.Select(d => new TransferTensor
        {
            Name = d.Name,
            DType = d.DType,
            Shape = [.. d.Shape],
            Change = d.Change switch
            {
                TensorChange.Unchanged => TransferChange.Unchanged,
                TensorChange.Sparse => TransferChange.Sparse,
                _ => TransferChange.Full,
            },
            Elements = d.Indices.Length,
            Bytes = d.EncodedBytes,
        });
        // Indices travel little-endian, as every tensor byte does (safetensors' layout); this process is little-endian.
        var stream = delta.SelectMany(d => d.Change == TensorChange.Sparse
            ? new[] { new ReadOnlyMemory<byte>(MemoryMarshal.AsBytes(d.Indices.AsSpan()).ToArray()), d.Values }
            : [d.Values]);
        return ([.. tensors], new SegmentedBytes(stream));
    }

    /// <summary>Where a transfer's chunks are assembled: one array per tensor.</summary>
    public static SegmentedBytes Staging(PolicyTransfer manifest) => SegmentedBytes.Allocate(manifest.Tensors.Select(t => t.Bytes));

    /// <summary>The weights a fully received stream rebuilds: whole tensors as they came, a delta applied to
    /// <paramref name="held"/> (the version <see cref="PolicyTransferKey.FromVersion"/> as the receiver holds it).
    /// Not yet verified: the caller compares their digest with the manifest's. A stream that does not fit its manifest
    /// or <paramref name="held"/> is an <see cref="InvalidDataException"/> naming the version.</summary>
    public static IReadOnlyList<TensorBytes> Rebuild(PolicyTransfer manifest, SegmentedBytes staged, IReadOnlyList<TensorBytes>? held)
    {
        var arrays = staged.Arrays;
        var deltas = manifest.Tensors.Select((t, i) => ToDelta(manifest, t, arrays[i])).ToArray();
        if (!manifest.IsDelta)
        {
            if (deltas.FirstOrDefault(d => d.Change != TensorChange.Full) is { } partial)
                throw Unfit(manifest, $"tensor '{partial.Name}' is {partial.Change} in a transfer of the whole version");
            return [.. deltas.Select(d => new TensorBytes(d.Name, d.DType, d.Shape, d.Values))];
        }
        if (held is null) throw new ArgumentNullException(nameof(held), $"a delta against version {manifest.Key.FromVersion} needs the weights of that version");
        try
        {
            return WeightDelta.Apply(held, deltas);
        }
        catch (ArgumentException e)
        {
            throw Unfit(manifest, e.Message);
        }
    }

    static TensorDelta ToDelta(PolicyTransfer manifest, TransferTensor t, byte[] bytes)
    {
        if (!SafeTensorsDTypes.IsSupported(t.DType)) throw Unfit(manifest, $"tensor '{t.Name}' has dtype '{t.DType}'");
        var size = SafeTensorsDTypes.ElementSize(t.DType);
        var shape = t.Shape.ToArray();
        switch (t.Change)
        {
            case TransferChange.Unchanged:
                return new TensorDelta(t.Name, t.DType, shape, TensorChange.Unchanged, [], []);
            case TransferChange.Sparse:
                if (t.Elements < 0 || bytes.Length != (long)t.Elements * (4 + size))
                    throw Unfit(manifest, $"tensor '{t.Name}' has {bytes.Length} bytes for {t.Elements} changed {t.DType} elements");
                var indices = MemoryMarshal.Cast<byte, int>(bytes.AsSpan(0, 4 * t.Elements)).ToArray();
                return new TensorDelta(t.Name, t.DType, shape, TensorChange.Sparse, indices, bytes[(4 * t.Elements)..]);
            default:
                var expected = SafeTensorsDTypes.ByteCount(t.DType, shape);
                if (expected != bytes.Length)
                    throw Unfit(manifest, $"tensor '{t.Name}' ({t.DType} [{string.Join(", ", shape)}]) came as {bytes.Length} bytes");
                return new TensorDelta(t.Name, t.DType, shape, TensorChange.Full, [], bytes);
        }
    }

    static TransferTensor Full(string name, string dtype, ImmutableArray<long> shape, long bytes) =>
        new() { Name = name, DType = dtype, Shape = shape, Change = TransferChange.Full, Bytes = bytes };

    static InvalidDataException Unfit(PolicyTransfer manifest, string problem) =>
        new($"experiment '{manifest.Info.ExperimentId}': policy version {manifest.Info.Version}{Described(manifest.Key)} does not fit its manifest: {problem}");

    /// <summary>" (BF16, delta from version 3)" for messages; nothing for an as-published whole version.</summary>
    public static string Described(PolicyTransferKey key) => (key.DType, key.FromVersion) switch
    {
        ("", < 0) => "",
        ("", var from) => $" (delta from version {from})",
        (var dtype, < 0) => $" ({dtype})",
        (var dtype, var from) => $" ({dtype}, delta from version {from})",
    };
}
