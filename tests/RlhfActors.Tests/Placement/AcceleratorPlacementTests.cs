using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime.MembershipService.SiloMetadata;
using Orleans.TestingHost;
using RlhfActors.Abstractions;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Abstractions.Placement;
using RlhfActors.Grains.Device;
using RlhfActors.Grains.Placement;
using RlhfActors.Silo.Hosting;

namespace RlhfActors.Tests.Placement;

/// <summary>
/// Two-silo clusters whose silos advertise chosen hardware. The advertised accelerator only steers placement: the
/// silos run with <see cref="SiloHardwareOptions.ComputeOnCpu"/>, and the grains are asked only where they live.
/// </summary>
public sealed class AcceleratorPlacementTests
{
    const int GrainsPerKind = 6;

    [Fact]
    public async Task Heavy_grains_all_land_on_the_silo_that_advertises_an_accelerator()
    {
        await using var cluster = await StartAsync(cudaOnSecondary: true);
        var cudaSilo = Assert.Single(cluster.Silos, s => Hardware(s).HasAccelerator).SiloAddress;

        var placements = await PlaceHeavyGrainsAsync(cluster);

        Assert.All(placements, p => Assert.Equal(cudaSilo, p.Silo));
        // Compute stays on the CPU worker in tests, whatever the silo advertises.
        Assert.All(placements, p => Assert.Equal(DeviceWorkers.Cpu, p.Device));
    }

    [Fact]
    public async Task Without_an_accelerator_anywhere_heavy_grains_still_activate_on_cpu()
    {
        await using var cluster = await StartAsync(cudaOnSecondary: false);

        var placements = await PlaceHeavyGrainsAsync(cluster);

        Assert.Equal(2 * GrainsPerKind, placements.Count);
        Assert.All(placements, p => Assert.True(cluster.ContainsSilo(p.Silo)));
        Assert.All(placements, p => Assert.Equal(DeviceWorkers.Cpu, p.Device));
    }

    [Fact]
    public void Allocator_hands_out_devices_round_robin_or_cpu()
    {
        var twoGpus = new DeviceAllocator(new SiloHardwareOptions { Accelerator = "cuda", DeviceCount = 2 });
        Assert.Equal(["cuda:0", "cuda:1", "cuda:0"], [twoGpus.Allocate(), twoGpus.Allocate(), twoGpus.Allocate()]);
        var none = new DeviceAllocator(new SiloHardwareOptions { Accelerator = SiloHardwareOptions.NoAccelerator, DeviceCount = 0 });
        Assert.Equal(DeviceWorkers.Cpu, none.Allocate());
        var advertisedOnly = new DeviceAllocator(new SiloHardwareOptions { Accelerator = "cuda", DeviceCount = 1, ComputeOnCpu = true });
        Assert.Equal(DeviceWorkers.Cpu, advertisedOnly.Allocate());
    }

    [Fact]
    public void Several_cpu_workers_are_handed_out_in_turn_as_separate_threads_on_the_cpu_device()
    {
        var allocator = new DeviceAllocator(new SiloHardwareOptions { Accelerator = "none", DeviceCount = 0, CpuWorkers = 2, CpuThreadsPerWorker = 1 });
        Assert.Equal(["cpu", "cpu#1", "cpu"], [allocator.Allocate(), allocator.Allocate(), allocator.Allocate()]);
        using var workers = new DeviceWorkers(allocator);
        var first = workers.Get("cpu");
        var second = workers.Get("cpu#1");
        Assert.NotEqual(first.ThreadId, second.ThreadId);
        Assert.Equal(("cpu", "cpu"), (first.Device, second.Device));
        Assert.Equal("cpu#1", second.Name);
    }

    [Fact]
    public void Bad_hardware_settings_are_rejected_by_name()
    {
        var e = Assert.Throws<ArgumentException>(() => new SiloHardwareOptions { Accelerator = "tpu" }.Validate());
        Assert.Contains("Rlhf:Hardware:Accelerator", e.Message);
        e = Assert.Throws<ArgumentException>(() => new SiloHardwareOptions { Accelerator = "none", DeviceCount = 2 }.Validate());
        Assert.Contains("Rlhf:Hardware:DeviceCount", e.Message);
        e = Assert.Throws<ArgumentException>(() => new SiloHardwareOptions { CpuWorkers = 0 }.Validate());
        Assert.Contains("Rlhf:Hardware:CpuWorkers", e.Message);
    }

    static SiloHardwareOptions Hardware(InProcessSiloHandle silo) =>
        silo.ServiceProvider.GetRequiredService<DeviceAllocator>().Hardware;

    static async Task<List<GrainPlacement>> PlaceHeavyGrainsAsync(InProcessTestCluster cluster)
    {
        var experiment = $"placement-{Guid.NewGuid():N}";
        var calls = new List<Task<GrainPlacement>>();
        for (var i = 0; i < GrainsPerKind; i++)
        {
            calls.Add(cluster.Client.GetGrain<ILearnerGrain>($"{experiment}-{i}").GetPlacement());
            calls.Add(cluster.Client.GetGrain<IRolloutSamplerGrain>(GrainKeys.Sampler(experiment, i)).GetPlacement());
        }
        return [.. await Task.WhenAll(calls)];
    }

    static Task<InProcessTestCluster> StartAsync(bool cudaOnSecondary) => HardwareClusters.StartAsync(cudaOnSecondary);
}
