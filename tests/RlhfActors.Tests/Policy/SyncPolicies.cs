using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Policy;
using RlhfActors.Abstractions.Tensors;
using RlhfActors.Grains.Specs;
using RlhfActors.Grains.Tensors;
using RlhfActors.Tests.Grains;
using RlhfActors.Training.Model;
using RlhfActors.Training.Tokenization;
using RlhfActors.Training.Weights;

namespace RlhfActors.Tests.Policy;

/// <summary>The weight-sync tests' experiment: a bf16 decoder of about 200 K parameters (800 KB in fp32, 400 KB in
/// bf16, both over <see cref="SmallMessageClusterFixture"/>'s 256 KiB limit), synced in 32 KiB chunks.</summary>
static class SyncPolicies
{
    const string ModelConfigJson = """
        {"model_type": "llama", "hidden_size": 64, "intermediate_size": 192, "num_hidden_layers": 4,
         "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 32,
         "rope_theta": 10000, "tie_word_embeddings": true}
        """;

    public static readonly WeightSyncSection Sync = new() { ChunkBytes = 32 * 1024, Concurrency = 3 };

    public static ExperimentConfig Config(string prefix)
    {
        var tiny = TinyExperiment.Create($"{prefix}-{Guid.NewGuid():N}");
        return tiny with { Model = tiny.Model with { DType = ModelDType.Bf16, ConfigJson = ModelConfigJson }, WeightSync = Sync };
    }

    public static ModelConfig ModelOf(ExperimentConfig config) =>
        ExperimentSpecs.Model(config.Model).Config! with { VocabSize = TokenizerFiles.Create("char").VocabSize };

    /// <summary>Freshly initialised fp32 weights, as a learner publishes them.</summary>
    public static IReadOnlyList<TensorBytes> FreshWeights(ModelConfig config, int seed)
    {
        using var model = new DecoderModel(config);
        model.InitializeWeights(seed, std: 0.2);
        return ModelFactory.ExportWeights(model);
    }

    public static PolicyVersion Version(ExperimentConfig config, long version, IReadOnlyList<TensorBytes> weights) => new()
    {
        ExperimentId = config.Name, Version = version, Step = (int)version, Weights = weights.ToPayloads(), PublishedAt = DateTimeOffset.UtcNow,
    };

    public static string Digest(IReadOnlyList<TensorBytes> weights) => PayloadDigest.Sha256(weights.ToPayloads());

    /// <summary>What a bf16 sampler of <paramref name="weights"/> holds, as its digest.</summary>
    public static string Bf16Digest(IReadOnlyList<TensorBytes> weights) => Digest(WeightCast.To(weights, "BF16"));
}
