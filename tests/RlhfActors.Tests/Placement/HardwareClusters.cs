using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime.MembershipService.SiloMetadata;
using Orleans.TestingHost;
using RlhfActors.Grains.Device;
using RlhfActors.Grains.Placement;
using RlhfActors.Silo.Hosting;

namespace RlhfActors.Tests.Placement;

/// <summary>Two-silo in-process clusters whose silos advertise chosen hardware (compute stays on the CPU).</summary>
public static class HardwareClusters
{
    /// <param name="cudaOnSecondary">The second silo advertises one CUDA device; the first never does.</param>
    public static async Task<InProcessTestCluster> StartAsync(bool cudaOnSecondary)
    {
        var builder = new InProcessTestClusterBuilder(2);
        // Silos are configured one after another as they start: the first one built is the CPU-only one.
        var configured = 0;
        builder.ConfigureSilo((_, silo) => silo.AddRlhfRuntime(
            Interlocked.Increment(ref configured) > 1 && cudaOnSecondary
                ? new SiloHardwareOptions { Accelerator = "cuda", DeviceCount = 1, ComputeOnCpu = true }
                : new SiloHardwareOptions { Accelerator = SiloHardwareOptions.NoAccelerator, DeviceCount = 0 }));
        builder.ConfigureClient(client => client.AddRlhfClientLimits());
        var cluster = builder.Build();
        await cluster.DeployAsync();
        await WaitForMetadataAsync(cluster);
        return cluster;
    }

    /// <summary>
    /// Silo metadata reaches the other silos' caches in the background, after membership says a silo is active; a
    /// director that places before then sees no accelerator and falls back. Wait until every silo knows every silo.
    /// </summary>
    public static async Task WaitForMetadataAsync(InProcessTestCluster cluster)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (true)
        {
            var known = cluster.Silos.All(placing => cluster.Silos.All(other =>
                placing.ServiceProvider.GetRequiredService<ISiloMetadataCache>().GetSiloMetadata(other.SiloAddress)
                    .Metadata.ContainsKey(HardwareMetadata.Accelerator)));
            if (known) return;
            if (DateTime.UtcNow > deadline) throw new TimeoutException("silo metadata did not reach every silo");
            await Task.Delay(50);
        }
    }
}
