using System.Collections.Immutable;
using Orleans.Concurrency;
using Orleans.Runtime.MembershipService.SiloMetadata;
using RlhfActors.Abstractions.Cluster;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Grains.Device;
using RlhfActors.Grains.Placement;

namespace RlhfActors.Grains.Cluster;

/// <summary>
/// Answers <c>rlhf cluster</c>: membership rows from Orleans' management grain, advertised hardware from the silo
/// metadata cache (<see cref="HardwareMetadata"/>), and activations per role from the management grain's grain
/// statistics. A stateless worker, so it runs on the silo the client's call lands on, with no placement of its own.
/// </summary>
[StatelessWorker(1)]
public sealed class ClusterInfoGrain(ISiloMetadataCache metadata) : Grain, IClusterInfoGrain
{
    /// <summary>Role names of the grain classes, as <c>rlhf cluster</c> prints them.</summary>
    static readonly Dictionary<string, string> RoleOfClass = new(StringComparer.Ordinal)
    {
        ["ExperimentGrain"] = "controller",
        ["LearnerGrain"] = "learner",
        ["RolloutSamplerGrain"] = "sampler",
        ["PolicyGrain"] = "policy",
        ["ReferenceGrain"] = "reference",
        ["RewardModelGrain"] = "reward",
        ["CriticGrain"] = "critic",
        ["JudgeGrain"] = "judge",
        ["ExperimentDirectoryGrain"] = "directory",
    };

    public async Task<ImmutableArray<SiloSummary>> GetSilos()
    {
        var management = GrainFactory.GetGrain<IManagementGrain>(0);
        var hosts = await management.GetDetailedHosts(onlyActive: false);
        var active = hosts.Where(h => h.Status == SiloStatus.Active).Select(h => h.SiloAddress).ToArray();
        var statistics = active.Length > 0 ? await management.GetSimpleGrainStatistics(active) : [];
        var roles = statistics
            .Select(s => (s.SiloAddress, Role: RoleOf(s.GrainType), s.ActivationCount))
            .Where(s => s.Role is not null)
            .GroupBy(s => s.SiloAddress)
            .ToDictionary(g => g.Key, g => g.GroupBy(s => s.Role!).ToImmutableSortedDictionary(r => r.Key, r => r.Sum(s => s.ActivationCount), StringComparer.Ordinal));

        return [.. hosts.OrderBy(h => h.StartTime).Select(h =>
        {
            var advertised = metadata.GetSiloMetadata(h.SiloAddress);
            return new SiloSummary
            {
                Address = h.SiloAddress.ToString(),
                Name = h.SiloName ?? "",
                Status = h.Status.ToString(),
                GatewayPort = h.ProxyPort,
                Accelerator = advertised.Metadata.TryGetValue(HardwareMetadata.Accelerator, out var accelerator) ? accelerator : SiloHardwareOptions.NoAccelerator,
                DeviceCount = HardwareMetadata.AcceleratorDevices(advertised),
                Roles = roles.GetValueOrDefault(h.SiloAddress) ?? ImmutableSortedDictionary<string, int>.Empty,
                StartedAt = h.StartTime,
            };
        })];
    }

    /// <summary>The role of a grain type as the statistics name it (the class's full name, perhaps with assembly);
    /// null for Orleans' own grains and this one.</summary>
    static string? RoleOf(string grainType)
    {
        var name = grainType.Split(',')[0];
        name = name[(name.LastIndexOf('.') + 1)..];
        return RoleOfClass.GetValueOrDefault(name);
    }
}
