using Orleans.TestingHost;
using RlhfActors.Silo.Hosting;

namespace RlhfActors.Tests.Grains;

/// <summary>
/// An in-process cluster of two silos configured like the real silo (<see cref="RlhfSiloBuilderExtensions.AddRlhfRuntime"/>:
/// messaging limits, grain storage, device workers), with the test harness's own clustering. Two silos, so that
/// grain-to-grain messages really cross a silo boundary and are serialized, not deep-copied.
/// </summary>
public sealed class ClusterFixture : IAsyncLifetime
{
    public InProcessTestCluster Cluster { get; private set; } = null!;

    public IClusterClient Client => Cluster.Client;

    public async Task InitializeAsync()
    {
        var builder = new InProcessTestClusterBuilder(2);
        builder.ConfigureSilo((_, silo) => silo.AddRlhfRuntime());
        builder.ConfigureClient(client => client.AddRlhfClientLimits());
        Cluster = builder.Build();
        await Cluster.DeployAsync();
    }

    public async Task DisposeAsync()
    {
        await Cluster.StopAllSilosAsync();
        await Cluster.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class ClusterCollection : ICollectionFixture<ClusterFixture>
{
    public const string Name = "two-silo cluster";
}
