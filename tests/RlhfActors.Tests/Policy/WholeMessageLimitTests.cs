using Microsoft.Extensions.DependencyInjection;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Grains.Policy;
using static RlhfActors.Tests.Policy.SyncPolicies;

namespace RlhfActors.Tests.Policy;

/// <summary>
/// The same policy as one message and in chunks, on a cluster of its own: a message over the limit does not fail
/// cleanly. Orleans closes the connection it was written to (an oversized frame is an InvalidMessageFrameException)
/// and retries what was in flight on it, so the call hangs and takes the client's other calls with it; this cluster
/// is not shared with other tests for that reason.
/// </summary>
public sealed class WholeMessageLimitTests(SmallMessageClusterFixture fixture) : IClassFixture<SmallMessageClusterFixture>
{
    [Fact]
    public async Task A_policy_over_the_message_limit_gets_through_in_chunks_and_never_as_one_message()
    {
        var config = Config("whole");
        var model = ModelOf(config);
        var v0 = Version(config, 0, FreshWeights(model, seed: 9));
        var v1 = Version(config, 1, FreshWeights(model, seed: 10));
        var registry = fixture.Client.GetGrain<IPolicyGrain>(config.Name);

        var chunked = await PolicyPublisher.PublishAsync(registry, v0, Sync);
        Assert.Equal(v0.Describe(), chunked);

        // The same size as one message, last: it never completes.
        var whole = registry.Publish(v1);
        var first = await Task.WhenAny(whole, Task.Delay(TimeSpan.FromSeconds(3)));
        Assert.True(first != whole || whole.IsFaulted, "a policy over the message limit was published as one message");
        // Asked from inside the cluster (the client's connection is the broken one): only the chunked version is there.
        var inside = fixture.Cluster.Silos[0].ServiceProvider.GetRequiredService<IGrainFactory>().GetGrain<IPolicyGrain>(config.Name);
        Assert.Equal(0, await inside.GetLatestVersionNumber());
        Assert.Equal(chunked, await inside.DescribeLatest());
    }
}
