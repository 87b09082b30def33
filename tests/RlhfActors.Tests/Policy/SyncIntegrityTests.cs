using RlhfActors.Abstractions.Grains;
using RlhfActors.Abstractions.Policy;
using RlhfActors.Grains.Policy;
using static RlhfActors.Tests.Policy.SyncPolicies;

namespace RlhfActors.Tests.Policy;

/// <summary>What a damaged or unloadable version does: it is refused by digest, on the way in (publication) and on the
/// way out (a sampler's pull), and a sampler never serves a version it did not load whole.</summary>
[Collection(SmallMessageClusterCollection.Name)]
public sealed class SyncIntegrityTests(SmallMessageClusterFixture fixture)
{
    [Fact]
    public async Task A_publication_with_a_damaged_or_missing_chunk_is_refused_and_never_becomes_visible()
    {
        var config = Config("publish-damaged");
        var version = Version(config, 0, FreshWeights(ModelOf(config), seed: 3));
        var registry = fixture.Client.GetGrain<IPolicyGrain>(config.Name);
        var stream = PolicyTransfers.Stream(version.Weights);
        const int chunk = 32 * 1024;

        async Task UploadAsync(Func<long, byte[], byte[]?> edit)
        {
            await registry.BeginPublish(PolicyTransfers.Whole(version, version.Describe()));
            for (long offset = 0; offset < stream.Length; offset += chunk)
            {
                var data = edit(offset, stream.Read(offset, (int)Math.Min(chunk, stream.Length - offset)).ToArray());
                if (data is not null) await registry.PutChunk(0, new PolicyChunk { Offset = offset, Data = data });
            }
        }

        await UploadAsync((offset, data) =>
        {
            if (offset == 2 * chunk) data[100] ^= 0x01;
            return data;
        });
        var damaged = await Assert.ThrowsAnyAsync<Exception>(() => registry.CommitPublish(0));
        Assert.Contains("policy version 0 failed its digest check", damaged.Message);
        Assert.Null(await registry.DescribeLatest());
        Assert.False(await registry.Holds(0));

        await UploadAsync((offset, data) => offset == chunk ? null : data);
        var missing = await Assert.ThrowsAnyAsync<Exception>(() => registry.CommitPublish(0));
        Assert.Contains($"cover bytes [0, {chunk}) of {stream.Length}", missing.Message);
        Assert.Equal(-1, await registry.GetLatestVersionNumber());

        // The number was not used up: the intact bytes publish as version 0.
        var info = await PolicyPublisher.PublishAsync(registry, version, Sync);
        Assert.Equal((0, version.Describe().Sha256), (info.Version, info.Sha256));
    }

    [Fact]
    public async Task A_damaged_chunk_is_refused_by_digest_and_the_sampler_keeps_serving_the_version_it_holds()
    {
        var config = Config("pull-damaged");
        var model = ModelOf(config);
        var v0 = FreshWeights(model, seed: 4);
        var v1 = FreshWeights(model, seed: 5);
        var registry = fixture.Client.GetGrain<IPolicyGrain>(config.Name);
        await PolicyPublisher.PublishAsync(registry, Version(config, 0, v0), Sync);
        var sampler = await fixture.SamplerAsync(config, 0);
        await sampler.SyncPolicy(0);
        await PolicyPublisher.PublishAsync(registry, Version(config, 1, v1), Sync);

        CorruptChunks.Experiments[config.Name] = true;
        try
        {
            // The delta is damaged, then the whole version it falls back to: both fail their digest.
            var error = await Assert.ThrowsAnyAsync<Exception>(() => sampler.SyncPolicy(1));
            Assert.Contains($"experiment '{config.Name}': policy version 1 (BF16) failed its digest check", error.Message);
        }
        finally
        {
            CorruptChunks.Experiments.TryRemove(config.Name, out _);
        }

        // Still version 0, whole: it evaluates with it and holds its weights bit for bit.
        Assert.Equal(Bf16Digest(v0), await sampler.GetHeldWeightsSha256());
        Assert.Equal(0, (await sampler.Evaluate(0)).PolicyVersion);
        Assert.Equal(1, (await sampler.SyncPolicy(1)).Version);
        Assert.Equal(Bf16Digest(v1), await sampler.GetHeldWeightsSha256());
        await sampler.Release();
    }

    [Fact]
    public async Task A_version_that_fails_midway_through_its_load_leaves_the_sampler_holding_none_and_is_never_served()
    {
        var config = Config("half-loaded");
        var model = ModelOf(config);
        var v0 = FreshWeights(model, seed: 6);
        var registry = fixture.Client.GetGrain<IPolicyGrain>(config.Name);
        await PolicyPublisher.PublishAsync(registry, Version(config, 0, v0), Sync);
        var sampler = await fixture.SamplerAsync(config, 0);
        await sampler.SyncPolicy(0);

        // Intact bytes (the digest matches) that do not fit the model: the final norm, loaded after every layer, has
        // half its width. The load stops there with the layers already overwritten.
        var unfit = FreshWeights(model, seed: 7).Select(t => t.Name == "model.norm.weight" ? t with { Shape = [t.Shape[0] / 2], Data = t.Data[..(t.Data.Length / 2)] } : t).ToArray();
        await PolicyPublisher.PublishAsync(registry, Version(config, 1, unfit), Sync);
        var error = await Assert.ThrowsAnyAsync<Exception>(() => sampler.SyncPolicy(1));
        Assert.Contains("model.norm.weight", error.Message);

        // It holds no version now, so nothing is served from the mixed weights: every call pulls again and fails.
        Assert.Equal("", await sampler.GetHeldWeightsSha256());
        await Assert.ThrowsAnyAsync<Exception>(() => sampler.Evaluate(0));

        var v2 = FreshWeights(model, seed: 8);
        await PolicyPublisher.PublishAsync(registry, Version(config, 2, v2), Sync);
        Assert.Equal(2, (await sampler.Evaluate(2)).PolicyVersion);
        Assert.Equal(Bf16Digest(v2), await sampler.GetHeldWeightsSha256());
        // With no whole version held there was nothing to take a delta from.
        var stats = await sampler.GetSyncStats();
        Assert.Equal((2L, 0), (stats.LastVersion, stats.DeltaPulls));
        await sampler.Release();
    }
}
