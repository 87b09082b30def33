using System.Collections.Immutable;
using RlhfActors.Abstractions.Config;
using RlhfActors.Tests.Grains;

namespace RlhfActors.Tests.Grpo;

/// <summary>A GRPO run small enough for a test: 1-digit addition, the tiny decoder, a short SFT warm-up, then a few
/// GRPO steps with a KL term (so the reference grain is used) and a format reward beside exact match (so groups
/// differ in reward even when no answer is right, and the update is not zero).</summary>
public static class TinyGrpo
{
    public static ExperimentConfig Create(string name, int grpoSteps = 1, int samplers = 2, GrpoMode mode = GrpoMode.Sync) => new()
    {
        Name = name,
        Algorithm = Algorithm.Grpo,
        Seed = 5,
        Model = new ModelSection { Init = ModelSection.Scratch, DType = ModelDType.Fp32, Tokenizer = "char", ConfigJson = TinyExperiment.ModelConfigJson },
        Data = new DataSection
        {
            Task = "addition",
            TaskParameters = ImmutableSortedDictionary<string, int>.Empty.Add("digits", 1),
            TrainExamples = 500,
            EvalExamples = 10,
        },
        Sft = new SftSection { Steps = 20, BatchSize = 16, LearningRate = 0.01, WarmupSteps = 2 },
        Grpo = new GrpoSection
        {
            Steps = grpoSteps,
            PromptsPerStep = 4,
            NumGenerations = 4,
            LearningRate = 0.01,
            Beta = 0.05,
            MaxCompletionLength = 3,
            Samplers = samplers,
            Mode = mode,
            MaxStaleness = mode == GrpoMode.Async ? 1 : 0,
            Rewards = [new RewardTerm { Name = "exact_match" }, new RewardTerm { Name = "format", Weight = 0.5 }],
        },
        Eval = new EvalSection { Every = 0, MaxNewTokens = 3 },
        OutputDir = Path.Combine(Path.GetTempPath(), "rlhf-tests", $"{name}-{Guid.NewGuid():N}"),
    };
}
