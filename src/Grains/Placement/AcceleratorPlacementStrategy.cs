using Orleans.Placement;

namespace RlhfActors.Grains.Placement;

/// <summary>Places a grain on a silo that advertises an accelerator, or on any compatible silo when none does
/// (see <see cref="AcceleratorPlacementDirector"/>).</summary>
[GenerateSerializer, Immutable, Alias("rlhf.AcceleratorPlacementStrategy")]
public sealed class AcceleratorPlacementStrategy : PlacementStrategy
{
    internal static readonly AcceleratorPlacementStrategy Singleton = new();
}

/// <summary>Marks a grain whose model should live on an accelerator: learners and samplers.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class AcceleratorPlacementAttribute() : PlacementAttribute(AcceleratorPlacementStrategy.Singleton);
