namespace RlhfActors.Abstractions.Placement;

/// <summary>Where a heavy grain's activation lives: its silo and the device its model runs on ("cpu", "cuda:0", …).
/// Cheap to ask for (no torch work), so tools and tests can see placement without starting a model.</summary>
[GenerateSerializer, Immutable, Alias("rlhf.GrainPlacement")]
public sealed record GrainPlacement
{
    [Id(0)] public required SiloAddress Silo { get; init; }
    [Id(1)] public required string Device { get; init; }
}
