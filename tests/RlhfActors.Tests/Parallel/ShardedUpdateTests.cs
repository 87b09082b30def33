using RlhfActors.Tests.Model;
using RlhfActors.Training.Data;
using RlhfActors.Training.Model;
using RlhfActors.Training.Parallel;
using RlhfActors.Training.Preference;
using RlhfActors.Training.Rl;
using RlhfActors.Training.Rollouts;
using RlhfActors.Training.Sampling;
using RlhfActors.Training.Sft;
using RlhfActors.Training.Tokenization;
using static TorchSharp.torch;

namespace RlhfActors.Tests.Parallel;

/// <summary>
/// N ranks, each training on its shard of a global batch with the global batch's normalisers and summing gradients,
/// apply the update of one learner on the whole batch: for the SFT token mean, GRPO's grpo, dapo and dr_grpo
/// aggregations (with KL, truncation masking and μ = 2), and the DPO family (with RPO's NLL term).
/// <para>Tolerance. The group's gradient is the same sum as the single learner's in another order: each element is a
/// sum over the batch's token positions (a few hundred here), and reordering an fp32 sum of n terms moves it by at most
/// about n·ε·Σ|terms| (ε = 2⁻²³ ≈ 1.2e-7), i.e. ~3e-5 of the largest gradient for n ≈ 256 in the worst case and orders
/// less in practice. We allow 1e-4 of the largest gradient element. A per-rank normaliser (each rank's own token mean,
/// then averaged) is off by the ratio of shard sizes, tens of percent here (the shards are uneven on purpose), so
/// it cannot pass. The ranks themselves apply the same summed bytes, so their weights must agree bit for bit.</para>
/// </summary>
public sealed class ShardedUpdateTests
{
    static readonly CharTokenizer Tok = CharTokenizer.Instance;

    static float[] Gradients(DecoderModel model) =>
        [.. model.TrainableParameters().SelectMany(p => p.Param.grad!.to(ScalarType.Float32).cpu().data<float>().ToArray())];

    static float[] Weights(DecoderModel model) =>
        [.. model.TrainableParameters().SelectMany(p => p.Param.detach().to(ScalarType.Float32).cpu().data<float>().ToArray())];

    // --- SFT ---------------------------------------------------------------------------------------------------

    static SftLearnerSpec SftSpec()
    {
        // Addition: answers of 2 or 3 digits, so the rows' token counts differ and the normaliser matters.
        var data = ExperimentData.Load(new DataSpec
        {
            Task = "addition", TaskParameters = new Dictionary<string, int> { ["digits"] = 2 }, TrainExamples = 500, EvalExamples = 10, Seed = 4,
        });
        // max_grad_norm 0: measure only, so the gradient held after the step is the raw sum.
        var options = new SftOptions { Steps = 10, BatchSize = 13, LearningRate = 3e-3, WarmupSteps = 0, MaxGradNorm = 0 };
        var config = new ModelConfig
        {
            VocabSize = 0, HiddenSize = 32, IntermediateSize = 64, NumHiddenLayers = 2, NumAttentionHeads = 4,
            NumKeyValueHeads = 2, MaxPositionEmbeddings = 32, TieWordEmbeddings = true, RmsNormEps = 1e-5,
        };
        return new SftLearnerSpec(new ModelSource { Config = config }, "char", data.Train, options, Seed: 4);
    }

    static (SftStepMetrics Metrics, float[] Gradient, float[] Weights) TrainSft(IGradientReducer? group, int steps)
    {
        using var learner = SftLearner.Create(SftSpec());
        SftStepMetrics last = null!;
        for (int i = 0; i < steps; i++) last = learner.Step(group);
        return (last, Gradients(learner.Model), Weights(learner.Model));
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void Sft_ranks_apply_the_whole_batch_token_mean_gradient(int ranks)
    {
        var whole = TrainSft(null, 1);
        var group = new ThreadGroup(ranks).Run(g => TrainSft(g, 1));
        GroupAssert.RanksAgree(group);
        GroupAssert.SameSum(whole.Gradient, group[0].Gradient, "sft");
        Assert.Equal(whole.Metrics.Loss, group[0].Metrics.Loss, 5);
        Assert.Equal(whole.Metrics.Tokens, group[0].Metrics.Tokens);
        Assert.Equal(whole.Metrics.GradNorm, group[0].Metrics.GradNorm, 5);
    }

    [Fact]
    public void Sft_ranks_stay_with_the_single_learner_over_several_steps()
    {
        using var initial = SftLearner.Create(SftSpec());
        var start = Weights(initial.Model);
        var whole = TrainSft(null, 5);
        var group = new ThreadGroup(2).Run(g => TrainSft(g, 5));
        GroupAssert.RanksAgree(group);
        // After 5 AdamW steps the two runs may part by rounding; measured against how far training moved the weights.
        double moved = GroupAssert.Distance(whole.Weights, start), apart = GroupAssert.Distance(whole.Weights, group[0].Weights);
        Assert.True(apart <= 1e-3 * moved, $"the group is {apart:E2} from the single learner after 5 steps, which moved the weights {moved:E2}");
    }

    // --- GRPO --------------------------------------------------------------------------------------------------

    static DecoderModel CharModel(long seed) => TinyModels.Create(TinyModels.Llama() with { VocabSize = Tok.VocabSize }, seed, std: 0.02);

    /// <summary>5 groups of 4 completions of 1–5 tokens (5 = truncated), built by hand so the lengths surely vary.</summary>
    static (RolloutBatch Batch, double[] Rewards, float[][] Reference) GrpoBatch()
    {
        var random = new Random(3);
        var prompts = new[] { "ab|", "c|", "dd|", "e|", "fg|" }.SelectMany(p => Enumerable.Repeat(p, 4)).ToArray();
        var completions = prompts.Select(_ => Enumerable.Range(0, random.Next(1, 6)).Select(_ => random.Next(3, Tok.VocabSize)).ToArray()).ToArray();
        var batch = new RolloutBatch(
            [.. prompts.Select(p => EncodedExample.EncodePrompt(Tok, p))], completions,
            [.. completions.Select(c => new float[c.Length])], prompts, [.. completions.Select(_ => "")],
            [.. prompts.Select(_ => (string?)null)], [.. completions.Select(c => c.Length == 5)], GroupSize: 4, PolicyVersion: 0);
        var rewards = completions.Select((c, i) => c.Length * 0.3 + (c[0] % 2 == 0 ? 1 : 0) + i % 3 * 0.1).ToArray();
        using var reference = CharModel(9);
        return (batch, rewards, GrpoLearner.RowLogProbs(reference, batch, 1.0, Tok.PadId));
    }

    static (GrpoStepMetrics Metrics, float[] Gradient, float[] Weights) TrainGrpo(GrpoOptions options, IGradientReducer? group,
        (RolloutBatch Batch, double[] Rewards, float[][] Reference) data)
    {
        using var policy = CharModel(5);
        using var learner = new GrpoLearner(policy, null, options, Tok.PadId, maxGradNorm: 0);
        var metrics = learner.Step(data.Batch, data.Rewards, 1e-2, data.Reference, group);
        return (metrics, Gradients(policy), Weights(policy));
    }

    public static TheoryData<LossAggregation, int, bool, int> GrpoCases => new()
    {
        { LossAggregation.Grpo, 2, false, 1 },
        { LossAggregation.Grpo, 3, true, 1 },
        { LossAggregation.Dapo, 2, false, 1 },
        { LossAggregation.Dapo, 3, true, 2 },
        { LossAggregation.DrGrpo, 2, false, 1 },
        { LossAggregation.DrGrpo, 3, true, 1 },
    };

    [Theory]
    [MemberData(nameof(GrpoCases))]
    public void Grpo_ranks_apply_the_whole_batch_gradient_for_each_aggregation(LossAggregation aggregation, int ranks, bool maskTruncated, int iterations)
    {
        var data = GrpoBatch();
        Assert.True(data.Batch.CompletionIds.Select(c => c.Length).Distinct().Count() > 1, "the completions must differ in length for the normaliser to matter");
        var options = new GrpoOptions
        {
            NumGenerations = 4, Beta = 0.05, MaxCompletionLength = 5, Aggregation = aggregation,
            MaskTruncated = maskTruncated, NumIterations = iterations,
        };
        var whole = TrainGrpo(options, null, data);
        var group = new ThreadGroup(ranks).Run(g => TrainGrpo(options, g, data));
        GroupAssert.RanksAgree(group);
        GroupAssert.SameSum(whole.Gradient, group[0].Gradient, $"grpo {aggregation}");
        Assert.Equal(whole.Metrics.Loss, group[0].Metrics.Loss, 5);
        Assert.Equal(whole.Metrics.MeanKl!.Value, group[0].Metrics.MeanKl!.Value, 5);
        Assert.Equal(whole.Metrics.ClipFraction, group[0].Metrics.ClipFraction, 5);
        Assert.Equal(whole.Metrics.CompletionTokens, group[0].Metrics.CompletionTokens);
        Assert.Equal(whole.Metrics.Sequences, group[0].Metrics.Sequences);
    }

    // --- DPO ---------------------------------------------------------------------------------------------------

    static PreferencePair[] Pairs() =>
        [.. Enumerable.Range(0, 11).Select(i => new PreferencePair($"{(char)('a' + i)}{(char)('z' - i)}=",
            new string('L', 1 + i % 3), i % 2 == 0 ? "H" : "HHHH"))];

    static (DpoStepMetrics Metrics, float[] Gradient, float[] Weights) TrainDpo(DpoOptions options, IGradientReducer? group,
        PreferencePair[] pairs, (float Chosen, float Rejected)[] reference)
    {
        using var policy = CharModel(3);
        using var learner = new DpoLearner(policy, null, Tok, options with { MaxGradNorm = 0 });
        var metrics = learner.Step(pairs, reference, 1e-2, group);
        return (metrics, Gradients(policy), Weights(policy));
    }

    [Theory]
    [InlineData(DpoLossType.Sigmoid, 0.0, 2)]
    [InlineData(DpoLossType.Sigmoid, 0.5, 3)]
    [InlineData(DpoLossType.Ipo, 0.0, 3)]
    [InlineData(DpoLossType.Simpo, 0.0, 2)]
    public void Dpo_ranks_apply_the_whole_batch_gradient(DpoLossType type, double rpoAlpha, int ranks)
    {
        var pairs = Pairs();
        using var referenceModel = CharModel(8);
        var reference = PreferenceLogProbs.Rows(referenceModel, Tok, pairs);
        var options = new DpoOptions { LossType = type, Beta = 0.5, RpoAlpha = rpoAlpha };
        var whole = TrainDpo(options, null, pairs, reference);
        var group = new ThreadGroup(ranks).Run(g => TrainDpo(options, g, pairs, reference));
        GroupAssert.RanksAgree(group);
        GroupAssert.SameSum(whole.Gradient, group[0].Gradient, $"dpo {type} rpo_alpha {rpoAlpha}");
        Assert.Equal(whole.Metrics.Loss, group[0].Metrics.Loss, 5);
        Assert.Equal(whole.Metrics.Margin, group[0].Metrics.Margin, 5);
        Assert.Equal(whole.Metrics.Accuracy, group[0].Metrics.Accuracy, 5);
        Assert.Equal(pairs.Length, group[0].Metrics.Pairs);
    }

    [Fact]
    public void A_shard_is_contiguous_nearly_equal_and_covers_every_row_once()
    {
        var rows = Enumerable.Range(0, 3).Select(r => new DataShard(r, 3).Rows(11)).ToArray();
        Assert.Equal([(0, 4), (4, 4), (8, 3)], rows);
        var e = Assert.Throws<ArgumentException>(() => new DataShard(0, 4).Rows(3));
        Assert.Contains("parallel.learners", e.Message);
    }
}
