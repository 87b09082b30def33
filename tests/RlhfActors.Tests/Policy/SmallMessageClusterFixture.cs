using System.Collections.Concurrent;
using Orleans.Configuration;
using Orleans.TestingHost;
using Orleans.Runtime.Placement;
using RlhfActors.Abstractions;
using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Abstractions.Policy;
using RlhfActors.Abstractions.Sampling;
using RlhfActors.Silo.Hosting;

namespace RlhfActors.Tests.Policy;

/// <summary>
/// Two silos and a client configured like the real ones, except that a message body may be at most
/// <see cref="MaxMessageBodyBytes"/>: a policy of a few hundred KB is then "larger than the message limit", as a
/// multi-GB one is against the real 512 MiB, and the tests stay small. Every policy registry also passes its chunks
/// through <see cref="CorruptChunks"/>, which damages those of the experiments a test names.
/// </summary>
public sealed class SmallMessageClusterFixture : IAsyncLifetime
{
    public const int MaxMessageBodyBytes = 256 * 1024;

    public InProcessTestCluster Cluster { get; private set; } = null!;
    public IClusterClient Client => Cluster.Client;

    public async Task InitializeAsync()
    {
        var builder = new InProcessTestClusterBuilder(2);
        builder.ConfigureSilo((_, silo) =>
        {
            silo.AddRlhfRuntime();
            // After AddRlhfRuntime's figure, so this one wins.
            silo.Configure<SiloMessagingOptions>(o => o.MaxMessageBodySize = MaxMessageBodyBytes);
            silo.AddIncomingGrainCallFilter<CorruptChunks>();
        });
        builder.ConfigureClient(client =>
        {
            client.AddRlhfClientLimits();
            client.Configure<ClientMessagingOptions>(o => o.MaxMessageBodySize = MaxMessageBodyBytes);
        });
        Cluster = builder.Build();
        await Cluster.DeployAsync();
    }

    /// <summary>A sampler of <paramref name="config"/>, initialised on the silo that does not hold its registry, so
    /// every chunk it pulls is serialized.</summary>
    public async Task<IRolloutSamplerGrain> SamplerAsync(ExperimentConfig config, int index)
    {
        var registry = Client.GetGrain<IPolicyGrain>(config.Name);
        var management = Client.GetGrain<IManagementGrain>(0);
        await registry.GetLatestVersionNumber();
        var registrySilo = await management.GetActivationAddress(registry);
        var other = Cluster.GetActiveSilos().Select(s => s.SiloAddress).First(s => !s.Equals(registrySilo));
        var sampler = Client.GetGrain<IRolloutSamplerGrain>(GrainKeys.Sampler(config.Name, index));
        RequestContext.Set(IPlacementDirector.PlacementHintKey, other);
        try
        {
            await sampler.Initialize(new SamplerInit { Config = config, ModelConfigJson = SyncPolicies.ModelOf(config).ToJson() });
        }
        finally
        {
            RequestContext.Clear();
        }
        Assert.Equal(other, await management.GetActivationAddress(sampler));
        return sampler;
    }

    public async Task DisposeAsync()
    {
        await Cluster.StopAllSilosAsync();
        await Cluster.DisposeAsync();
    }
}

/// <summary>Flips a byte in the middle of every chunk a policy registry serves for the experiments in
/// <see cref="Experiments"/>, after the registry built it: a chunk damaged between the registry and its puller.</summary>
public sealed class CorruptChunks : IIncomingGrainCallFilter
{
    public static readonly ConcurrentDictionary<string, bool> Experiments = new();

    public async Task Invoke(IIncomingGrainCallContext context)
    {
        await context.Invoke();
        if (context.Result is PolicyChunk { Data.Length: > 0 } chunk && Experiments.ContainsKey(context.TargetId.Key.ToString()!))
        {
            // A copy: the registry's own bytes stay intact.
            var bytes = chunk.Data.ToArray();
            bytes[bytes.Length / 2] ^= 0x5A;
            context.Result = chunk with { Data = bytes };
        }
    }
}

[CollectionDefinition(Name)]
public sealed class SmallMessageClusterCollection : ICollectionFixture<SmallMessageClusterFixture>
{
    public const string Name = "two silos with a 256 KiB message limit";
}
