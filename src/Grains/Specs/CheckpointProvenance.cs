using System.Collections.Immutable;
using System.Globalization;
using RlhfActors.Abstractions.Config;

namespace RlhfActors.Grains.Specs;

/// <summary>What a checkpoint's manifest records of where its weights came from: the controller's checkpoints and the
/// learner's own on a graceful shutdown write the same fields.</summary>
public static class CheckpointProvenance
{
    /// <param name="policyVersion">The published version these weights are, or null when they were never published
    /// (a learner checkpointing itself as its silo shuts down).</param>
    public static ImmutableSortedDictionary<string, string> Create(string experimentId, ExperimentConfig config, string datasetSha256,
        long? policyVersion, int step) =>
        ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, new Dictionary<string, string>
        {
            ["experiment"] = experimentId,
            ["algorithm"] = config.Algorithm,
            ["config_sha256"] = Digests.ConfigSha256(config),
            ["config_json"] = Digests.ConfigToJson(config),
            ["dataset_sha256"] = datasetSha256,
            ["policy_version"] = policyVersion is { } v ? v.ToString(CultureInfo.InvariantCulture) : "",
            ["step"] = step.ToString(CultureInfo.InvariantCulture),
            ["seed"] = config.Seed.ToString(CultureInfo.InvariantCulture),
        });
}
