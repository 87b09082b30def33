using System.Collections.Immutable;
using RlhfActors.Abstractions.Config;
using RlhfActors.Tests.Grains;
using RlhfActors.Tests.Grpo;

namespace RlhfActors.Tests.Preference;

/// <summary>Preference-learning runs small enough for a test: 1-digit addition, the tiny decoder, a short SFT warm-up
/// (<see cref="TinyGrpo"/>'s), then a few steps of the stage under test.</summary>
public static class TinyPreference
{
    static ExperimentConfig Base(string name, Algorithm algorithm) => TinyGrpo.Create(name) with
    {
        Algorithm = algorithm,
        Grpo = new GrpoSection(),
        RewardModel = new RewardModelSection
        {
            Steps = 4, BatchSize = 8, LearningRate = 1e-3, WarmupSteps = 1,
            Pairs = new PreferenceDataSection { TrainExamples = 64, EvalExamples = 16 },
        },
        Dpo = new DpoSection
        {
            Steps = 3, BatchSize = 8, LearningRate = 1e-3, Beta = 0.1,
            Pairs = new PreferenceDataSection { TrainExamples = 64, EvalExamples = 16 },
        },
    };

    public static ExperimentConfig Dpo(string name, DpoLossVariant lossType = DpoLossVariant.Sigmoid) => Base(name, Algorithm.Dpo) with
    {
        Dpo = Base(name, Algorithm.Dpo).Dpo with { LossType = lossType },
        Eval = new EvalSection
        {
            Every = 2, MaxNewTokens = 3,
            Watch = [new WatchTask { Name = "reverse-3", Task = "reverse", TaskParameters = ImmutableSortedDictionary<string, int>.Empty.Add("length", 3), EvalExamples = 8 }],
        },
    };

    public static ExperimentConfig Ppo(string name) => Base(name, Algorithm.Ppo) with
    {
        Ppo = new PpoSection
        {
            Steps = 2, PromptsPerStep = 4, NumGenerations = 2, LearningRate = 1e-3, CriticLearningRate = 1e-3,
            KlCoef = 0.05, NumPpoEpochs = 2, NumMiniBatches = 2, MaxCompletionLength = 3, Samplers = 2,
        },
    };

    public static ExperimentConfig Rlaif(string name, JudgeSection? judge = null) => Base(name, Algorithm.Rlaif) with
    {
        Rlaif = new RlaifSection
        {
            Rounds = 2, PromptsPerRound = 6, NumCandidates = 3, StepsPerRound = 2, MaxCompletionLength = 3, Samplers = 2,
            Judge = judge ?? new JudgeSection(),
            // 1-digit pairs judge the policy's 1-digit sums here; the demo labels another difficulty.
        },
    };
}
