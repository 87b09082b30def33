using System.Collections.Immutable;

namespace RlhfActors.Abstractions.Learner;

[GenerateSerializer, Immutable, Alias("rlhf.CheckpointRequest")]
public sealed record CheckpointRequest
{
    /// <summary>Folder to create (absolute path, on the learner's silo).</summary>
    [Id(0)] public string Directory { get; init; } = "";
    /// <summary>Written into the checkpoint manifest: config hash, dataset hash, policy version, …</summary>
    [Id(1)] public ImmutableSortedDictionary<string, string> Provenance { get; init; } = ImmutableSortedDictionary<string, string>.Empty;
    /// <summary>The controller's cursor at this step (stage, stage state; JSON), written into the checkpoint so that
    /// it alone is enough to continue the run exactly.</summary>
    [Id(2)] public string ControllerState { get; init; } = "";
}

[GenerateSerializer, Immutable, Alias("rlhf.CheckpointResult")]
public sealed record CheckpointResult
{
    [Id(0)] public string Path { get; init; } = "";
    [Id(1)] public int Step { get; init; }
    [Id(2)] public string ManifestSha256 { get; init; } = "";
}
