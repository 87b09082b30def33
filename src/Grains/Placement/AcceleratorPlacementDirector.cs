using Microsoft.Extensions.Logging;
using Orleans.Runtime.MembershipService.SiloMetadata;
using Orleans.Runtime.Placement;

namespace RlhfActors.Grains.Placement;

/// <summary>
/// Picks, among the silos compatible with the grain, those that advertise accelerator devices (silo metadata, see
/// <see cref="HardwareMetadata"/>) and takes them in turn, each as often as it has devices, so a silo with two GPUs
/// gets twice the heavy grains of a silo with one. When no compatible silo advertises one (a CPU-only cluster, or
/// metadata not fetched yet) it falls back to a random compatible silo, like Orleans' random placement. A placement
/// hint in the request context (<see cref="IPlacementDirector.PlacementHintKey"/>) overrides both.
/// </summary>
/// <remarks>Each silo runs its own director for the activations it places; turns are per director, so the spread is
/// even per placing silo rather than globally exact, which is enough to keep the heavy grains off CPU-only silos.</remarks>
public sealed partial class AcceleratorPlacementDirector(ISiloMetadataCache metadata, ILogger<AcceleratorPlacementDirector> logger)
    : IPlacementDirector
{
    long _turn = -1;

    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var compatible = context.GetCompatibleSilos(target);
        if (compatible.Length == 0)
            throw new OrleansException($"no silo can host {target.GrainIdentity}");
        // An explicit hint (a caller pinning the activation to a silo) wins, as with Orleans' own directors.
        if (IPlacementDirector.GetPlacementHint(target.RequestContextData, compatible) is { } hinted)
            return Task.FromResult(hinted);

        var slots = HardwareMetadata.AcceleratorSlots(compatible, metadata);

        SiloAddress chosen;
        if (slots.Count > 0)
        {
            chosen = slots[(int)((ulong)Interlocked.Increment(ref _turn) % (ulong)slots.Count)];
        }
        else
        {
            chosen = compatible[Random.Shared.Next(compatible.Length)];
            LogNoAccelerator(target.GrainIdentity, chosen);
        }
        return Task.FromResult(chosen);
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "No compatible silo advertises an accelerator; placing {Grain} on {Silo}")]
    private partial void LogNoAccelerator(GrainId grain, SiloAddress silo);
}
