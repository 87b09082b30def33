using Orleans.Runtime.Placement;
using RlhfActors.Abstractions;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Abstractions.Messaging;
using RlhfActors.Abstractions.Policy;
using RlhfActors.Abstractions.Tensors;

namespace RlhfActors.Tests.Grains;

[Collection(ClusterCollection.Name)]
public sealed class PolicyGrainTests(ClusterFixture fixture)
{
    static string NewExperiment() => $"policy-{Guid.NewGuid():N}";

    [Fact]
    public async Task The_cluster_has_two_silos()
    {
        Assert.Equal(2, fixture.Cluster.GetActiveSilos().Count());
        var hosts = await fixture.Client.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true);
        Assert.Equal(2, hosts.Count);
    }

    [Fact]
    public async Task A_published_version_comes_back_with_identical_bytes()
    {
        var id = NewExperiment();
        var policy = fixture.Client.GetGrain<IPolicyGrain>(id);
        Assert.Equal(-1, await policy.GetLatestVersionNumber());
        Assert.Null(await policy.GetLatest());

        var published = SerializationTests.SamplePolicy(id, 0, seed: 7, floats: 10_000);
        var info = await policy.Publish(published);
        var latest = await policy.GetLatest();

        Assert.NotNull(latest);
        Assert.Equal(0, await policy.GetLatestVersionNumber());
        Assert.Equal(PayloadDigest.Sha256(published.Weights), info.Sha256);
        Assert.Equal(info, latest.Describe());
        Assert.Equal(published.Weights[0].Data.ToArray(), latest.Weights[0].Data.ToArray());
    }

    [Fact]
    public async Task A_sampler_on_the_other_silo_pulls_the_same_weights()
    {
        var id = NewExperiment();
        var policy = fixture.Client.GetGrain<IPolicyGrain>(id);
        var published = SerializationTests.SamplePolicy(id, 0, seed: 9, floats: 50_000);
        await policy.Publish(published);

        var management = fixture.Client.GetGrain<IManagementGrain>(0);
        var policySilo = await management.GetActivationAddress(policy);
        Assert.NotNull(policySilo);
        var otherSilo = fixture.Cluster.GetActiveSilos().Select(s => s.SiloAddress).Single(s => !s.Equals(policySilo));

        // Ask placement to activate the sampler on the silo that does not hold the policy.
        var sampler = fixture.Client.GetGrain<IRolloutSamplerGrain>(GrainKeys.Sampler(id, 0));
        RequestContext.Set(IPlacementDirector.PlacementHintKey, otherSilo);
        PolicyVersionInfo pulled;
        try
        {
            pulled = await sampler.SyncPolicy(0);
        }
        finally
        {
            RequestContext.Clear();
        }
        var samplerSilo = await management.GetActivationAddress(sampler);

        Assert.Equal(otherSilo, samplerSilo);
        Assert.NotEqual(policySilo, samplerSilo);
        Assert.Equal(PayloadDigest.Sha256(published.Weights), pulled.Sha256);
        Assert.Equal(published.Weights.Sum(w => (long)w.Data.Length), pulled.Bytes);

        // A newer version than the sampler holds is pulled; asking for one not yet published is an error.
        await policy.Publish(SerializationTests.SamplePolicy(id, 1, seed: 10, floats: 50_000));
        Assert.Equal(1, (await sampler.SyncPolicy(1)).Version);
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => sampler.SyncPolicy(5));
        Assert.Contains("latest published is 1", error.Message);
        await sampler.Release();
    }

    [Fact]
    public async Task Keeps_only_the_newest_versions_and_refuses_old_or_foreign_ones()
    {
        var id = NewExperiment();
        var policy = fixture.Client.GetGrain<IPolicyGrain>(id);
        for (var v = 0; v < 4; v++) await policy.Publish(SerializationTests.SamplePolicy(id, v, seed: v, floats: 8));

        Assert.Equal(3, await policy.GetLatestVersionNumber());
        Assert.NotNull(await policy.GetVersion(2));
        Assert.Null(await policy.GetVersion(1)); // KeepVersions defaults to 2
        var stale = await Assert.ThrowsAsync<ArgumentException>(() => policy.Publish(SerializationTests.SamplePolicy(id, 3, seed: 0, floats: 8)));
        Assert.Contains("not newer than the latest (3)", stale.Message);
        var foreign = await Assert.ThrowsAsync<ArgumentException>(() => policy.Publish(SerializationTests.SamplePolicy("someone-else", 9, seed: 0, floats: 8)));
        Assert.Contains("someone-else", foreign.Message);
    }

    [Fact]
    public async Task Release_drops_the_weights_and_the_numbering_goes_on()
    {
        var id = NewExperiment();
        var policy = fixture.Client.GetGrain<IPolicyGrain>(id);
        var first = await policy.Publish(SerializationTests.SamplePolicy(id, 0, seed: 1, floats: 1000));
        var second = await policy.Publish(SerializationTests.SamplePolicy(id, 1, seed: 2, floats: 1000));
        Assert.Equal(first.Bytes + second.Bytes, await policy.GetHeldBytes());

        await policy.Release();

        Assert.Equal(0, await policy.GetHeldBytes());
        Assert.Null(await policy.GetLatest());
        Assert.False(await policy.Holds(1)); // a resumed learner republishes
        Assert.Equal([first, second], (await policy.GetIndex()).ToArray());
        Assert.Equal(1, await policy.GetLatestVersionNumber());
        var stale = await Assert.ThrowsAsync<ArgumentException>(() => policy.Publish(SerializationTests.SamplePolicy(id, 1, seed: 3, floats: 1000)));
        Assert.Contains("not newer than the latest (1)", stale.Message);
        // The next run publishes after it, and is held again until it ends.
        var next = await policy.Publish(SerializationTests.SamplePolicy(id, 2, seed: 4, floats: 1000));
        Assert.Equal(next, (await policy.GetLatest())!.Describe());
    }

    [Fact]
    public async Task Release_keeps_the_newest_adapter_alone()
    {
        var id = NewExperiment();
        var policy = fixture.Client.GetGrain<IPolicyGrain>(id);
        var @base = await policy.Publish(SerializationTests.SamplePolicy(id, 0, seed: 1, floats: 10_000));
        PolicyVersion Adapter(long version) => SerializationTests.SamplePolicy(id, version, seed: (int)version, floats: 100) with
        {
            BaseVersion = @base.Version,
            BaseSha256 = @base.Sha256,
            AdapterAlpha = 8,
        };
        await policy.Publish(Adapter(1));
        var newest = await policy.Publish(Adapter(2));

        await policy.Release();

        // What multi-LoRA serving asks a finished experiment for: its newest adapter (a few KB here, never the base).
        Assert.Equal(newest, (await policy.GetLatest())!.Describe());
        Assert.Equal(newest.Bytes, await policy.GetHeldBytes());
        Assert.Null(await policy.GetVersion(@base.Version));
        Assert.Null(await policy.GetVersion(1));
    }

    [Fact]
    public async Task A_policy_larger_than_the_orleans_default_message_limit_gets_through()
    {
        // Orleans refuses bodies over 100 MB by default; RlhfLimits raises it for weights. 110 MB here.
        const int floats = 110 * 1024 * 1024 / 4;
        Assert.True(floats * 4L < RlhfLimits.MaxMessageBodyBytes);
        var id = NewExperiment();
        var policy = fixture.Client.GetGrain<IPolicyGrain>(id);
        var big = SerializationTests.SamplePolicy(id, 0, seed: 3, floats: floats);

        var info = await policy.Publish(big);
        var back = await policy.GetLatest();

        Assert.Equal(PayloadDigest.Sha256(big.Weights), info.Sha256);
        Assert.Equal(info.Sha256, back!.Describe().Sha256);
    }
}

/// <summary>The registry's version index is grain state: it outlives the activation (the weights do not), so the
/// numbering continues and the versions a run produced stay known.</summary>
[Collection(ClusterCollection.Name)]
public sealed class PolicyIndexTests(ClusterFixture fixture)
{
    [Fact]
    public async Task The_index_survives_a_deactivation_and_the_weights_do_not()
    {
        var id = $"policy-index-{Guid.NewGuid():N}";
        var policy = fixture.Client.GetGrain<IPolicyGrain>(id);
        var first = await policy.Publish(SerializationTests.SamplePolicy(id, 0, seed: 1, floats: 100));
        var second = await policy.Publish(SerializationTests.SamplePolicy(id, 1, seed: 2, floats: 100));

        await policy.Cast<Orleans.Core.Internal.IGrainManagementExtension>().DeactivateOnIdle();
        // A call after DeactivateOnIdle lands on a new activation once the old one is gone.
        for (var attempt = 0; attempt < 50 && await policy.GetLatest() is not null; attempt++) await Task.Delay(100);

        Assert.Null(await policy.GetLatest());
        Assert.Equal([first, second], (await policy.GetIndex()).ToArray());
        Assert.Equal(1, await policy.GetLatestVersionNumber());
        var e = await Assert.ThrowsAsync<ArgumentException>(() => policy.Publish(SerializationTests.SamplePolicy(id, 1, seed: 3, floats: 100)));
        Assert.Contains("not newer than the latest (1)", e.Message);
    }
}
