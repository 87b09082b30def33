using RlhfActors.Training.Tokenization;
using RlhfActors.Training.Checkpoints;
using RlhfActors.Training.Data;
using RlhfActors.Training.Evaluation;
using RlhfActors.Training.Model;
using RlhfActors.Training.Sft;
using TorchSharp;

namespace RlhfActors.Tests.Sft;

public sealed class SftLearnerTests : IDisposable
{
    readonly string dir = Path.Combine(Path.GetTempPath(), "rlhf-sft-" + Guid.NewGuid().ToString("N"));
    public void Dispose() { if (Directory.Exists(dir)) Directory.Delete(dir, true); }

    static readonly ModelConfig Tiny = new()
    {
        VocabSize = 0, HiddenSize = 48, IntermediateSize = 96, NumHiddenLayers = 2, NumAttentionHeads = 4,
        NumKeyValueHeads = 2, MaxPositionEmbeddings = 32, TieWordEmbeddings = true, RmsNormEps = 1e-5,
    };

    static (SftLearnerSpec Spec, LoadedData Data) Spec(int steps, string dtype = "fp32")
    {
        var data = ExperimentData.Load(new DataSpec
        {
            Task = "reverse", TaskParameters = new Dictionary<string, int> { ["length"] = 3 }, TrainExamples = 2000, EvalExamples = 50, Seed = 4,
        });
        var options = new SftOptions { Steps = steps, BatchSize = 32, LearningRate = 3e-3, WarmupSteps = 10 };
        return (new SftLearnerSpec(new ModelSource { Config = Tiny, DType = dtype }, "char", data.Train, options, Seed: 4), data);
    }

    [Fact]
    public void Training_lowers_the_loss_and_raises_held_out_accuracy()
    {
        var (spec, data) = Spec(150);
        using var learner = SftLearner.Create(spec);
        using var evaluator = PolicyEvaluator.Create(learner.Config, "char", "fp32");
        evaluator.LoadWeights(learner.ExportWeights());
        double before = evaluator.Evaluate(data.Eval, data.Verifier, 6).Accuracy;
        var first = learner.Step();
        SftStepMetrics last = first;
        for (int i = 1; i < 150; i++) last = learner.Step();
        evaluator.LoadWeights(learner.ExportWeights());
        double after = evaluator.Evaluate(data.Eval, data.Verifier, 6).Accuracy;
        Assert.True(last.Loss < first.Loss * 0.5, $"loss {first.Loss} → {last.Loss}");
        Assert.True(after >= before + 0.3, $"accuracy {before} → {after}");
    }

    [Fact]
    public void Resuming_from_a_checkpoint_continues_exactly_as_an_uninterrupted_run()
    {
        var (spec, _) = Spec(12);
        using var straight = SftLearner.Create(spec);
        for (int i = 0; i < 8; i++) straight.Step();
        var info = straight.SaveCheckpoint(dir, new Dictionary<string, string> { ["config_sha256"] = "abc" });
        Assert.Equal(8, info.Step);
        var expected = Enumerable.Range(0, 4).Select(_ => straight.Step().Loss).ToArray();

        using var resumed = SftLearner.Create(spec);
        resumed.LoadCheckpoint(dir);
        Assert.Equal(8, resumed.StepsDone);
        var actual = Enumerable.Range(0, 4).Select(_ => resumed.Step().Loss).ToArray();
        for (int i = 0; i < 4; i++) Assert.Equal(expected[i], actual[i], 6);
        var checkpoint = CheckpointReader.Open(dir);
        Assert.Equal("abc", checkpoint.Provenance["config_sha256"]);
        // The checkpoint names its tokenizer (hashed in the manifest), so generation from the folder can encode text.
        Assert.Contains(TokenizerFiles.CharMarkerFileName, checkpoint.Manifest.Files.Keys);
        Assert.IsType<CharTokenizer>(TokenizerFiles.Create(dir));
    }

    [Fact]
    public void Training_steps_leak_no_tensors()
    {
        var (spec, _) = Spec(30, "bf16");
        using var learner = SftLearner.Create(spec);
        for (int i = 0; i < 3; i++) learner.Step();
        long live = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 10; i++) learner.Step();
        Assert.Equal(live, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [Fact]
    public void An_example_longer_than_the_context_is_refused_up_front()
    {
        var (spec, _) = Spec(5);
        var tooLong = spec with { Train = new[] { new PromptCompletion(new string('a', 40), "b") } };
        var e = Assert.Throws<ArgumentException>(() => SftLearner.Create(tooLong));
        Assert.Contains("max_position_embeddings", e.Message);
    }
}
