using Orleans.Placement;
using Orleans.Runtime.MembershipService.SiloMetadata;
using Orleans.Runtime.Placement;

namespace RlhfActors.Grains.Placement;

/// <summary>Places a light grain (controller, policy registry, verifiable rewards) on a silo WITHOUT an accelerator
/// when the cluster has one, so accelerator silos keep their CPU cores and memory for the device work; on a
/// single-silo or all-GPU cluster, anywhere.</summary>
[GenerateSerializer, Immutable, Alias("rlhf.ControlPlanePlacementStrategy")]
public sealed class ControlPlanePlacementStrategy : PlacementStrategy
{
    internal static readonly ControlPlanePlacementStrategy Singleton = new();
}

/// <summary>Marks a grain that does no device work: see <see cref="ControlPlanePlacementStrategy"/>.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class ControlPlanePlacementAttribute() : PlacementAttribute(ControlPlanePlacementStrategy.Singleton);

/// <summary>Random among the compatible silos that advertise no accelerator, else random among all compatible ones;
/// a placement hint wins, as with Orleans' own directors.</summary>
public sealed class ControlPlanePlacementDirector(ISiloMetadataCache metadata) : IPlacementDirector
{
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var compatible = context.GetCompatibleSilos(target);
        if (compatible.Length == 0)
            throw new OrleansException($"no silo can host {target.GrainIdentity}");
        if (IPlacementDirector.GetPlacementHint(target.RequestContextData, compatible) is { } hinted)
            return Task.FromResult(hinted);
        var cpuOnly = compatible.Where(s => HardwareMetadata.AcceleratorDevices(metadata.GetSiloMetadata(s)) == 0).ToArray();
        var pool = cpuOnly.Length > 0 ? cpuOnly : compatible;
        return Task.FromResult(pool[Random.Shared.Next(pool.Length)]);
    }
}
