using Microsoft.Extensions.Logging.Abstractions;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Abstractions.Tensors;
using RlhfActors.Grains.Policy;
using RlhfActors.Training.Evaluation;
using RlhfActors.Training.Weights;
using static RlhfActors.Tests.Policy.SyncPolicies;

namespace RlhfActors.Tests.Policy;

/// <summary>
/// Chunked weight sync and delta sync through real grains on two silos whose message limit is 256 KiB, so the
/// policies here (a decoder of about 200 K parameters: 800 KB in fp32, 400 KB in bf16) are larger than a message may
/// be, as a multi-GB policy is against the real limit. Samplers are placed on the silo that does not hold the
/// registry, so every chunk is serialized.
/// </summary>
[Collection(SmallMessageClusterCollection.Name)]
public sealed class ChunkedSyncTests(SmallMessageClusterFixture fixture)
{
    [Fact]
    public async Task A_policy_larger_than_the_message_limit_travels_in_chunks_and_is_verified()
    {
        var config = Config("chunked");
        var weights = FreshWeights(ModelOf(config), seed: 1);
        var version = Version(config, 0, weights);
        // Larger than a message in fp32 and in the samplers' bf16.
        Assert.True(weights.Sum(w => (long)w.Data.Length) > 2 * SmallMessageClusterFixture.MaxMessageBodyBytes);
        var registry = fixture.Client.GetGrain<IPolicyGrain>(config.Name);
        var sampler = await fixture.SamplerAsync(config, 0);

        var info = await PolicyPublisher.PublishAsync(registry, version, Sync);
        var pulled = await sampler.SyncPolicy(0);
        var asPublished = await new PolicyPuller(registry, Sync, NullLogger.Instance).PullAsync(0);

        Assert.Equal(PayloadDigest.Sha256(version.Weights), info.Sha256);
        Assert.Equal(info, pulled);
        Assert.Equal(weights.Select(w => w.Data), asPublished!.Weights.Select(w => w.Data));
        // The sampler holds the bf16 rounding of the published weights, which is what it verified.
        var bf16 = WeightCast.To(weights, "BF16");
        Assert.Equal(Digest(bf16), await sampler.GetHeldWeightsSha256());
        var stats = await sampler.GetSyncStats();
        Assert.Equal((1, 0), (stats.Pulls, stats.DeltaPulls));
        Assert.Equal(bf16.Sum(w => (long)w.Data.Length), stats.BytesMoved);
        await sampler.Release();
    }

    [Fact]
    public async Task A_sampler_holding_a_version_receives_only_what_changed_in_its_dtype_and_rebuilds_it_bit_exactly()
    {
        var config = Config("delta");
        var model = ModelOf(config);
        var v0 = Clearable(FreshWeights(model, seed: 2));
        var v1 = Next(v0);
        var registry = fixture.Client.GetGrain<IPolicyGrain>(config.Name);
        await PolicyPublisher.PublishAsync(registry, Version(config, 0, v0), Sync);
        var held = await fixture.SamplerAsync(config, 0);
        await held.SyncPolicy(0);

        await PolicyPublisher.PublishAsync(registry, Version(config, 1, v1), Sync);
        Assert.Equal(1, (await held.SyncPolicy(1)).Version);
        var fresh = await fixture.SamplerAsync(config, 1);
        Assert.Equal(1, (await fresh.SyncPolicy(1)).Version);

        var expected = WeightCast.To(v1, "BF16");
        var (deltaBytes, fullBytes) = WeightDelta.Size(WeightDelta.Encode(WeightCast.To(v0, "BF16"), expected), expected);
        var heldStats = await held.GetSyncStats();
        var freshStats = await fresh.GetSyncStats();
        Assert.Equal((2, 1, deltaBytes), (heldStats.Pulls, heldStats.DeltaPulls, heldStats.LastBytesMoved));
        Assert.Equal((1, 0, fullBytes), (freshStats.Pulls, freshStats.DeltaPulls, freshStats.BytesMoved));
        // 16 elements changed in bf16 (the fp32-only nudges round away): 16 × (4 + 2) bytes.
        Assert.Equal(16 * 6, deltaBytes);
        // Bit for bit the same weights as the whole pull, and as libtorch's own cast of the fp32 weights.
        var sha256 = Digest(expected);
        Assert.Equal(sha256, await held.GetHeldWeightsSha256());
        Assert.Equal(sha256, await fresh.GetHeldWeightsSha256());
        using (var direct = PolicyEvaluator.Create(model, "char", "bf16"))
        {
            direct.LoadWeights(v1);
            Assert.Equal(sha256, Digest(direct.ExportWeights()));
        }
        await held.Release();
        await fresh.Release();
    }

    const string Moved = "model.layers.1.mlp.up_proj.weight", Nudged = "model.layers.2.self_attn.o_proj.weight";

    /// <summary>Weights whose <see cref="Nudged"/> tensor has the low 16 bits of every element cleared, so that setting
    /// its lowest bit changes it in fp32 and never in bf16 (no rounding tie flips).</summary>
    static IReadOnlyList<TensorBytes> Clearable(IReadOnlyList<TensorBytes> weights) =>
        Edited(weights, Nudged, (_, v) => BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(v) & ~0xFFFF));

    /// <summary>16 elements of one tensor moved by 0.5 (a change in any dtype), every element of another by one fp32
    /// ulp (a change bf16 rounds away).</summary>
    static IReadOnlyList<TensorBytes> Next(IReadOnlyList<TensorBytes> v0)
    {
        var moved = Edited(v0, Moved, (i, v) => i % 37 == 0 && i < 16 * 37 ? v + 0.5f : v);
        return Edited(moved, Nudged, (_, v) => BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(v) | 1));
    }

    static IReadOnlyList<TensorBytes> Edited(IReadOnlyList<TensorBytes> weights, string name, Func<int, float, float> edit) => weights.Select(t =>
    {
        if (t.Name != name) return t;
        var values = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(t.Data).ToArray();
        for (var i = 0; i < values.Length; i++) values[i] = edit(i, values[i]);
        return t with { Data = System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()).ToArray() };
    }).ToArray();
}
