using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using RlhfActors.Abstractions.Messaging;
using RlhfActors.Grains.Device;
using RlhfActors.Grains.Experiments;

namespace RlhfActors.Tests.Grains;

/// <summary>The test silos run with the real silo's settings (both take them from AddRlhfRuntime).</summary>
[Collection(ClusterCollection.Name)]
public sealed class SiloSettingsTests(ClusterFixture fixture)
{
    [Fact]
    public void Every_silo_has_the_raised_message_limit_and_a_cpu_device_worker()
    {
        foreach (var silo in fixture.Cluster.Silos)
        {
            var services = silo.ServiceProvider;
            var messaging = services.GetRequiredService<IOptions<SiloMessagingOptions>>().Value;
            Assert.Equal(RlhfLimits.MaxMessageBodyBytes, messaging.MaxMessageBodySize);
            Assert.Equal("cpu", services.GetRequiredService<DeviceWorkers>().Get().Device);
            Assert.Equal(10, services.GetRequiredService<IOptions<ExperimentDriverOptions>>().Value.StepsPerCall);
        }
        var client = fixture.Client.ServiceProvider.GetRequiredService<IOptions<ClientMessagingOptions>>().Value;
        Assert.Equal(RlhfLimits.MaxMessageBodyBytes, client.MaxMessageBodySize);
    }

    [Fact]
    public void Silos_do_not_share_a_device_worker()
    {
        var workers = fixture.Cluster.Silos.Select(s => s.ServiceProvider.GetRequiredService<DeviceWorkers>().Get()).ToList();
        Assert.Equal(2, workers.Count);
        Assert.NotSame(workers[0], workers[1]);
    }
}
