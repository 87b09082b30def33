using System.Collections.Immutable;
using RlhfActors.Abstractions.Config;
using RlhfActors.Grains.Specs;
using RlhfActors.Tests.Grains;
using RlhfActors.Training.Data;
using RlhfActors.Training.Sft;

namespace RlhfActors.Tests.Distillation;

/// <summary>A distillation run small enough for a test: 1-digit addition, a teacher twice as wide as the tiny student
/// (trained here once per test process, written as a checkpoint folder), a short SFT warm-up of the student, then a
/// few distillation steps.</summary>
public static class TinyDistill
{
    const string TeacherConfigJson = """
        {"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
         "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 32,
         "rope_theta": 10000, "tie_word_embeddings": true}
        """;

    static readonly Lazy<string> TeacherFolder = new(TrainTeacher, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The shared teacher checkpoint (char tokenizer, vocab 99), built on first use.</summary>
    public static string Teacher => TeacherFolder.Value;

    public static ExperimentConfig Create(string name, DistillLossType loss = DistillLossType.ReverseKl, int steps = 2, int samplers = 2,
        double? lmbda = null, int topK = 0) => new()
    {
        Name = name,
        Algorithm = Algorithm.Distill,
        Seed = 7,
        Model = new ModelSection { Init = ModelSection.Scratch, DType = ModelDType.Fp32, Tokenizer = "char", ConfigJson = TinyExperiment.ModelConfigJson },
        Data = Data(),
        Sft = new SftSection { Steps = 10, BatchSize = 16, LearningRate = 0.01, WarmupSteps = 2 },
        Distill = new DistillSection
        {
            Teacher = Teacher,
            Loss = loss,
            Lmbda = lmbda,
            Steps = steps,
            PromptsPerStep = 4,
            NumGenerations = 2,
            MaxNewTokens = 3,
            LearningRate = 0.01,
            TopK = topK,
            Samplers = samplers,
        },
        Eval = new EvalSection { Every = 0, MaxNewTokens = 3 },
        OutputDir = Path.Combine(Path.GetTempPath(), "rlhf-tests", $"{name}-{Guid.NewGuid():N}"),
    };

    static DataSection Data() => new()
    {
        Task = "addition",
        TaskParameters = ImmutableSortedDictionary<string, int>.Empty.Add("digits", 1),
        TrainExamples = 500,
        EvalExamples = 10,
    };

    static string TrainTeacher()
    {
        var config = new ExperimentConfig
        {
            Name = "tiny-teacher",
            Seed = 11,
            Model = new ModelSection { Init = ModelSection.Scratch, DType = ModelDType.Fp32, Tokenizer = "char", ConfigJson = TeacherConfigJson },
            Data = Data(),
            Sft = new SftSection { Steps = 40, BatchSize = 16, LearningRate = 0.01, WarmupSteps = 2 },
        };
        var data = ExperimentData.Load(ExperimentSpecs.Data(config));
        using var sft = SftLearner.Create(new SftLearnerSpec(ExperimentSpecs.Model(config.Model), "char",
            ExperimentSpecs.SftDemonstrations(config, data.Train), ExperimentSpecs.Sft(config), config.Seed));
        for (int i = 0; i < config.Sft.Steps; i++) sft.Step();
        var folder = Path.Combine(Path.GetTempPath(), "rlhf-tests", $"tiny-teacher-{Guid.NewGuid():N}");
        sft.SaveCheckpoint(folder, new Dictionary<string, string>());
        return folder;
    }
}
