using Orleans.TestingHost;
using RlhfActors.Tests.Placement;

namespace RlhfActors.Tests.Grpo;

/// <summary>
/// Two silos where only the second advertises an accelerator (compute stays on the CPU): learner, samplers and
/// reference land there, the controller, policy registry and reward grain on the first. Every message of the GRPO
/// pipeline (prompts, rollouts, rewards, reference log-probs, weights) therefore crosses a silo boundary.
/// </summary>
public sealed class SplitClusterFixture : IAsyncLifetime
{
    public InProcessTestCluster Cluster { get; private set; } = null!;
    public IClusterClient Client => Cluster.Client;

    public async Task InitializeAsync() => Cluster = await HardwareClusters.StartAsync(cudaOnSecondary: true);

    public async Task DisposeAsync()
    {
        await Cluster.StopAllSilosAsync();
        await Cluster.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class SplitClusterCollection : ICollectionFixture<SplitClusterFixture>
{
    public const string Name = "split cluster (accelerator on one silo)";
}
