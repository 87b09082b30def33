using System.Diagnostics;
using RlhfActors.Training.Data;
using RlhfActors.Training.Model;
using RlhfActors.Training.RewardModeling;
using RlhfActors.Training.Scoring;
using RlhfActors.Training.Tasks;
using RlhfActors.Training.Tokenization;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace RlhfActors.Tests.RewardModeling;

public sealed class RewardModelTrainerTests(ITestOutputHelper output)
{
    internal static readonly ModelConfig Tiny = new()
    {
        VocabSize = CharTokenizer.Instance.VocabSize, HiddenSize = 48, IntermediateSize = 96, NumHiddenLayers = 2, NumAttentionHeads = 4,
        NumKeyValueHeads = 2, MaxPositionEmbeddings = 16, TieWordEmbeddings = true, RmsNormEps = 1e-5,
    };

    /// <summary>A scalar head on a randomly initialised tiny body (HF init, N(0, 0.02)).</summary>
    internal static ScalarHeadModel FreshModel(int seed = 7)
    {
        using var body = new DecoderModel(Tiny);
        body.InitializeWeights(seed);
        return ScalarHeadModel.FromPolicyWeights(Tiny, ModelFactory.ExportWeights(body), seed, ScalarType.Float32, CPU);
    }

    static readonly TaskExamples OneDigit = TaskSplit.Build(new AdditionTask(digits: 1), seed: 11, trainCount: 2000, evalCount: 30);
    static readonly RewardModelOptions Options = new() { Steps = 300, BatchSize = 32, LearningRate = 3e-3, WarmupSteps = 10, WeightDecay = 0.1 };

    // One-digit sums leave 70 training prompts, too few for a fresh tiny body to learn the size of a sum, which
    // "another prompt's answer" asks for: held-out accuracy after 300 steps depends on the body's seed and on the CPU's
    // rounding (measured 2026-12-03 without AVX-512, body seeds 7–10: 0.67 → 0.67, 0.40 → 0.63, 0.37 → 0.83,
    // 0.50 → 0.50; an AVX-512 machine gave 0.67 → 0.80 for seed 7). What holds on every seed is the fit: 0.88–0.97 of
    // the training pairs ranked right. The SFT-initialised reward model of the PPO demo reaches 0.9+ held out on 2 digits.
    [Fact]
    public void Training_on_arithmetic_preferences_ranks_sums_above_wrong_answers()
    {
        var clock = Stopwatch.StartNew();
        var train = ArithmeticPreferences.Build(OneDigit.Train, seed: 1);
        var heldOut = ArithmeticPreferences.Build(OneDigit.Eval, seed: 2);
        Assert.Empty(heldOut.Select(p => p.Prompt).Intersect(train.Select(p => p.Prompt)));
        using var trainer = RewardModelTrainer.Create(FreshModel(), CharTokenizer.Instance, train, Options, seed: 3);
        var before = trainer.Evaluate(heldOut);
        var first = trainer.Step();
        var last = first;
        while (trainer.StepsDone < Options.Steps) last = trainer.Step();
        var after = trainer.Evaluate(heldOut);
        output.WriteLine($"held-out accuracy {before.Accuracy:F3} → {after.Accuracy:F3} (mean margin {after.MeanMargin:F2}), " +
                         $"loss {first.Loss:F3} → {last.Loss:F3}, {clock.Elapsed.TotalSeconds:F1} s");
        Assert.Equal(30, after.Pairs);
        var fit = trainer.Evaluate(train.Take(300).ToArray());
        output.WriteLine($"training pairs ranked right: {fit.Accuracy:F3}");
        Assert.True(fit.Accuracy >= 0.8, $"training preference accuracy {fit.Accuracy}");
        Assert.True(after.Accuracy >= before.Accuracy, $"held-out preference accuracy {before.Accuracy} → {after.Accuracy}");
        Assert.True(last.Loss < first.Loss, $"loss {first.Loss} → {last.Loss}");
        Assert.Equal(Options.Steps, last.Step);
        Assert.True(last.LearningRate < Options.LearningRate && last.Seconds > 0 && double.IsFinite(last.GradNorm));
    }

    [Fact]
    public void Steps_leak_no_tensors()
    {
        var train = ArithmeticPreferences.Build(OneDigit.Train.Take(64).ToArray(), seed: 1);
        var margins = train.Select((p, i) => new MarginedPreference(p, i % 2)).ToArray();
        using var trainer = RewardModelTrainer.Create(FreshModel(), CharTokenizer.Instance, margins, Options with { BatchSize = 8, CenterRewardsCoefficient = 0.01 }, seed: 3);
        for (int i = 0; i < 2; i++) trainer.Step();
        trainer.Evaluate(train.Take(4).ToArray());
        long live = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 5; i++) trainer.Step();
        trainer.Evaluate(train.Take(4).ToArray());
        Assert.Equal(live, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [Fact]
    public void A_pair_longer_than_the_context_is_refused_at_create()
    {
        var pairs = new[] { new PreferencePair("1+2=", "3", "4"), new PreferencePair("123456789+1=", "123456790", "1") };
        var model = FreshModel();
        var e = Assert.Throws<ArgumentException>(() => RewardModelTrainer.Create(model, CharTokenizer.Instance, pairs, Options, seed: 0));
        model.Dispose();
        Assert.Contains("training pair 1", e.Message);
        Assert.Contains("max_position_embeddings (16)", e.Message);
    }

    [Fact]
    public void Options_errors_name_the_config_fields()
    {
        Assert.Empty(new RewardModelOptions().Errors());
        var errors = new RewardModelOptions { Steps = -1, LearningRate = -1, CenterRewardsCoefficient = -0.5 }.Errors();
        Assert.Equal(3, errors.Count);
        Assert.Contains(errors, e => e.StartsWith("reward_model.steps"));
        Assert.Contains(errors, e => e.StartsWith("reward_model.learning_rate"));
        Assert.Contains(errors, e => e.StartsWith("reward_model.center_rewards_coefficient"));
    }
}
