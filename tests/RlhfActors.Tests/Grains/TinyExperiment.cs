using RlhfActors.Abstractions.Config;

namespace RlhfActors.Tests.Grains;

/// <summary>The smallest experiment that still trains something: reverse 3 characters, a 2-layer decoder of width
/// 32, 30 steps. Each test gets its own name and output folder.</summary>
public static class TinyExperiment
{
    public const string ModelConfigJson = """
        {"model_type": "llama", "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
         "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 32,
         "rope_theta": 10000, "tie_word_embeddings": true}
        """;

    public static ExperimentConfig Create(string name) => new()
    {
        Name = name,
        Algorithm = Algorithm.Sft,
        Seed = 3,
        Model = new ModelSection { Init = ModelSection.Scratch, DType = ModelDType.Fp32, Tokenizer = "char", ConfigJson = ModelConfigJson },
        Data = new DataSection
        {
            Task = "reverse",
            TaskParameters = System.Collections.Immutable.ImmutableSortedDictionary<string, int>.Empty.Add("length", 3),
            TrainExamples = 2000,
            EvalExamples = 20,
        },
        Sft = new SftSection { Steps = 30, BatchSize = 16, LearningRate = 0.01, WarmupSteps = 3 },
        Eval = new EvalSection { Every = 15, MaxNewTokens = 5 },
        Checkpoint = new CheckpointSection { Every = 0 },
        OutputDir = Path.Combine(Path.GetTempPath(), "rlhf-tests", $"{name}-{Guid.NewGuid():N}"),
    };
}
