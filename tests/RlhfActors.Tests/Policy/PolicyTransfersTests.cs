using RlhfActors.Abstractions.Policy;
using RlhfActors.Grains.Policy;
using RlhfActors.Tests.IO;
using RlhfActors.Training.Weights;

namespace RlhfActors.Tests.Policy;

/// <summary>A delta's manifest and stream, cut into chunks and assembled again, rebuild the new version bit for bit;
/// a stream that does not fit its manifest is refused naming the version.</summary>
public sealed class PolicyTransfersTests
{
    static PolicyTransfer Manifest(System.Collections.Immutable.ImmutableArray<TransferTensor> tensors, long from) => new()
    {
        Info = new PolicyVersionInfo { ExperimentId = "x", Version = 4 },
        Key = new PolicyTransferKey { Version = 4, DType = "BF16", FromVersion = from },
        Tensors = tensors,
    };

    static SegmentedBytes Received(PolicyTransfer manifest, SegmentedBytes stream, int chunk)
    {
        var staged = PolicyTransfers.Staging(manifest);
        for (long offset = 0; offset < stream.Length; offset += chunk)
            staged.Write(offset, stream.Read(offset, (int)Math.Min(chunk, stream.Length - offset)).Span);
        return staged;
    }

    [Fact]
    public void A_delta_travels_as_indices_and_values_and_rebuilds_the_version_bit_exactly()
    {
        var from = TinyModel.Weights(1);
        var to = from.Select((t, i) => i switch
        {
            1 => t with { Data = t.Data.Select((b, j) => j is 4 or 31 ? (byte)(b ^ 0x10) : b).ToArray() }, // two elements
            3 => TinyModel.Weights(2)[3], // every element: sent whole
            _ => t,
        }).ToArray();
        var (tensors, stream) = PolicyTransfers.Delta(WeightDelta.Encode(from, to));
        var manifest = Manifest(tensors, from: 3);

        Assert.Equal([TransferChange.Unchanged, TransferChange.Sparse, TransferChange.Unchanged, TransferChange.Full, TransferChange.Unchanged],
            tensors.Select(t => t.Change));
        Assert.Equal(2 * (4 + 2), tensors[1].Bytes);
        Assert.Equal(stream.Length, manifest.StreamBytes);
        var rebuilt = PolicyTransfers.Rebuild(manifest, Received(manifest, stream, chunk: 7), from);
        Assert.Equal(to.Select(t => t.Data), rebuilt.Select(t => t.Data));
    }

    [Fact]
    public void A_stream_that_does_not_fit_its_manifest_is_refused_naming_the_version()
    {
        var weights = TinyModel.Weights(1);
        var (tensors, stream) = PolicyTransfers.Whole(weights);
        var shortened = tensors.SetItem(0, tensors[0] with { Bytes = tensors[0].Bytes - 2 });
        var manifest = Manifest(shortened, from: -1);
        var staged = PolicyTransfers.Staging(manifest);
        staged.Write(0, stream.Read(0, (int)staged.Length).Span);

        var error = Assert.Throws<InvalidDataException>(() => PolicyTransfers.Rebuild(manifest, staged, null));
        Assert.Contains("policy version 4 (BF16) does not fit its manifest: tensor 'model.embed_tokens.weight'", error.Message);

        // A delta whose index lies past its tensor's end.
        var changed = weights.Select((t, i) => i == 1 ? t with { Data = t.Data.Select((b, j) => j == 0 ? (byte)(b ^ 1) : b).ToArray() } : t).ToArray();
        var (delta, deltaStream) = PolicyTransfers.Delta(WeightDelta.Encode(weights, changed));
        var sparse = Manifest(delta, from: 1);
        var received = Received(sparse, deltaStream, chunk: 64);
        BitConverter.GetBytes(100_000).CopyTo(received.Arrays[1], 0);
        var unfit = Assert.Throws<InvalidDataException>(() => PolicyTransfers.Rebuild(sparse, received, weights));
        Assert.Contains("policy version 4 (BF16, delta from version 1) does not fit its manifest", unfit.Message);
        Assert.Contains("names element 100000", unfit.Message);
    }
}
