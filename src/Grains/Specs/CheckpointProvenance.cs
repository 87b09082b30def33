using System.Collections.Immutable;
using System.Globalization;
using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Learner;
using RlhfActors.Training.IO;

namespace RlhfActors.Grains.Specs;

/// <summary>What a checkpoint's manifest records of where its weights came from: the controller's checkpoints and the
/// learner's own on a graceful shutdown write the same fields.</summary>
public static class CheckpointProvenance
{
    /// <param name="policyVersion">The published version these weights are, or null when they were never published
    /// (a learner checkpointing itself as its silo shuts down).</param>
    /// <param name="learner">What the learner read: the dataset's hash and the hashes of the run's input files.</param>
    public static ImmutableSortedDictionary<string, string> Create(string experimentId, ExperimentConfig config, LearnerInfo? learner,
        long? policyVersion, int step) =>
        ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, new Dictionary<string, string>
        {
            ["experiment"] = experimentId,
            ["algorithm"] = config.Algorithm.Yaml(),
            ["config_sha256"] = Digests.ConfigSha256(config),
            ["config_json"] = Digests.ConfigToJson(config),
            ["dataset_sha256"] = learner?.DatasetSha256 ?? "",
            ["inputs_sha256_json"] = learner?.InputsSha256Json ?? "",
            ["code_version"] = CodeVersions.Code,
            ["torchsharp_version"] = CodeVersions.TorchSharp,
            ["libtorch_version"] = CodeVersions.LibTorch,
            ["policy_version"] = policyVersion is { } v ? v.ToString(CultureInfo.InvariantCulture) : "",
            ["step"] = step.ToString(CultureInfo.InvariantCulture),
            ["seed"] = config.Seed.ToString(CultureInfo.InvariantCulture),
        });
}
