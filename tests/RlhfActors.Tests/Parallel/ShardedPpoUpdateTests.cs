using RlhfActors.Tests.Model;
using RlhfActors.Tests.RewardModeling;
using RlhfActors.Training.Data;
using RlhfActors.Training.Model;
using RlhfActors.Training.Parallel;
using RlhfActors.Training.RewardModeling;
using RlhfActors.Training.Rl;
using RlhfActors.Training.Rl.Ppo;
using RlhfActors.Training.Rollouts;
using RlhfActors.Training.Scoring;
using RlhfActors.Training.Sft;
using RlhfActors.Training.Tokenization;
using static TorchSharp.torch;

namespace RlhfActors.Tests.Parallel;

/// <summary>
/// As <see cref="ShardedUpdateTests"/>, for PPO's policy and value losses (masked means over each minibatch's tokens,
/// with the whitening and GAE over the whole batch) and the reward model's Bradley–Terry loss (means over the batch's
/// pairs, with a margin and the centring term). The same tolerance and the same reasoning: a per-rank normaliser is
/// off by the ratio of uneven shards and cannot pass.
/// <para>Several PPO minibatches per step are checked with learning rate 0, so every minibatch sees the same weights
/// in both runs and the last minibatch's gradient compares exactly; a step that moves the weights is checked by how
/// far apart the two end, against how far the step moved them.</para>
/// </summary>
public sealed class ShardedPpoUpdateTests
{
    static readonly CharTokenizer Tok = CharTokenizer.Instance;

    static DecoderModel CharModel(long seed) => TinyModels.Create(TinyModels.Llama() with { VocabSize = Tok.VocabSize }, seed, std: 0.02);

    static float[] Flatten(IEnumerable<TorchSharp.Modules.Parameter> parameters, bool gradients) =>
        [.. parameters.SelectMany(p => (gradients ? p.grad! : p.detach()).to(ScalarType.Float32).cpu().data<float>().ToArray())];

    // --- PPO ---------------------------------------------------------------------------------------------------

    /// <summary>12 completions of 1–5 tokens (built by hand so the lengths surely vary), scores, the critic's old
    /// values and reference log-probs.</summary>
    static (RolloutBatch Batch, double[] Scores, float[][] Values, float[][] Reference) PpoBatch()
    {
        var random = new Random(5);
        var prompts = Enumerable.Range(0, 12).Select(i => $"{(char)('a' + i)}|").ToArray();
        var completions = prompts.Select(_ => Enumerable.Range(0, random.Next(1, 6)).Select(_ => random.Next(3, Tok.VocabSize)).ToArray()).ToArray();
        var batch = new RolloutBatch(
            [.. prompts.Select(p => EncodedExample.EncodePrompt(Tok, p))], completions,
            [.. completions.Select(c => new float[c.Length])], prompts, [.. completions.Select(_ => "")],
            [.. prompts.Select(_ => (string?)null)], [.. completions.Select(_ => false)], GroupSize: 1, PolicyVersion: 0);
        var scores = completions.Select((c, i) => c.Length * 0.2 + (c[0] % 2 == 0 ? 1 : -0.5) + i % 3 * 0.1).ToArray();
        var values = completions.Select(c => c.Select(_ => (float)(random.NextDouble() - 0.5)).ToArray()).ToArray();
        using var reference = CharModel(9);
        return (batch, scores, values, GrpoLearner.RowLogProbs(reference, batch, 1.0, Tok.PadId));
    }

    static readonly PpoOptions Ppo = new() { Epochs = 2, MiniBatches = 2, Beta = 0.05, Temperature = 1.0, MaxGradNorm = 0, MaxCompletionLength = 5 };

    static (PpoStepResult Metrics, float[] Gradient, float[] Weights) TrainPolicy(IGradientReducer? group, double learningRate,
        (RolloutBatch Batch, double[] Scores, float[][] Values, float[][] Reference) data)
    {
        using var policy = CharModel(5);
        using var learner = new PpoPolicyLearner(policy, Ppo, Tok.PadId);
        var result = learner.Step(data.Batch, data.Scores, data.Values, data.Reference, learningRate, group);
        var trainable = policy.TrainableParameters().Select(p => p.Param).ToArray();
        return (result, Flatten(trainable, gradients: true), Flatten(trainable, gradients: false));
    }

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    public void Ppo_policy_ranks_apply_each_minibatch_gradient_of_the_whole_minibatch(int ranks)
    {
        var data = PpoBatch();
        var whole = TrainPolicy(null, 0, data);
        var group = new ThreadGroup(ranks).Run(g => TrainPolicy(g, 0, data));
        GroupAssert.RanksAgree(group);
        GroupAssert.SameSum(whole.Gradient, group[0].Gradient, $"ppo policy, {ranks} ranks");
        Assert.Equal(whole.Metrics.Metrics.Loss, group[0].Metrics.Metrics.Loss, 5);
        Assert.Equal(whole.Metrics.Metrics.MeanKl!.Value, group[0].Metrics.Metrics.MeanKl!.Value, 5);
        Assert.Equal(whole.Metrics.Metrics.CompletionTokens, group[0].Metrics.Metrics.CompletionTokens);
        Assert.Equal(whole.Metrics.Returns, group[0].Metrics.Returns);
    }

    [Fact]
    public void Ppo_policy_ranks_end_a_step_of_four_updates_where_the_single_learner_does()
    {
        var data = PpoBatch();
        using var initial = CharModel(5);
        var start = Flatten(initial.TrainableParameters().Select(p => p.Param), gradients: false);
        var whole = TrainPolicy(null, 1e-2, data);
        var group = new ThreadGroup(3).Run(g => TrainPolicy(g, 1e-2, data));
        GroupAssert.RanksAgree(group);
        Assert.Equal(4, group[0].Metrics.Metrics.Updates);
        double moved = GroupAssert.Distance(whole.Weights, start), apart = GroupAssert.Distance(whole.Weights, group[0].Weights);
        Assert.True(apart <= 1e-3 * moved, $"the group is {apart:E2} from the single learner after 4 updates, which moved the weights {moved:E2}");
        Assert.Equal(whole.Metrics.Metrics.ClipFraction, group[0].Metrics.Metrics.ClipFraction, 3);
    }

    static (CriticStepMetrics Metrics, float[] Gradient, float[] Weights) TrainCritic(IGradientReducer? group,
        (RolloutBatch Batch, double[] Scores, float[][] Values, float[][] Reference) data)
    {
        using var body = CharModel(6);
        using var critic = ScalarHeadModel.FromPolicyWeights(body.Config, ModelFactory.ExportWeights(body), seed: 11, ScalarType.Float32, CPU);
        using var learner = new CriticLearner(critic, Ppo, Tok.PadId);
        // Returns far from the old values, so the value clip is taken on some tokens.
        var returns = data.Values.Select((row, b) => row.Select(v => v + (float)data.Scores[b]).ToArray()).ToArray();
        var metrics = learner.Step(data.Batch, returns, data.Values, learningRate: 0, group);
        var trainable = critic.TrainableParameters().Select(p => p.Param).ToArray();
        return (metrics, Flatten(trainable, gradients: true), Flatten(trainable, gradients: false));
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void Ppo_critic_ranks_apply_each_minibatch_value_loss_gradient_of_the_whole_minibatch(int ranks)
    {
        var data = PpoBatch();
        var whole = TrainCritic(null, data);
        var group = new ThreadGroup(ranks).Run(g => TrainCritic(g, data));
        GroupAssert.RanksAgree(group);
        GroupAssert.SameSum(whole.Gradient, group[0].Gradient, $"ppo value loss, {ranks} ranks");
        Assert.Equal(whole.Metrics.ValueLoss, group[0].Metrics.ValueLoss, 5);
        Assert.True(whole.Metrics.ClipFraction > 0, "the value clip must be taken somewhere for its fraction to be compared");
        Assert.Equal(whole.Metrics.ClipFraction, group[0].Metrics.ClipFraction, 5);
        Assert.Equal(whole.Metrics.ExplainedVariance, group[0].Metrics.ExplainedVariance, 5);
    }

    // --- Reward model ------------------------------------------------------------------------------------------

    static (RewardModelStepMetrics Metrics, float[] Gradient, float[] Weights) TrainRewardModel(IGradientReducer? group)
    {
        var pairs = Enumerable.Range(0, 13).Select(i => new MarginedPreference(new PreferencePair($"{(char)('a' + i)}=",
            new string('H', 1 + i % 4), i % 2 == 0 ? "L" : "LLL"), Margin: i % 3 * 0.5)).ToArray();
        var options = new RewardModelOptions { Steps = 5, BatchSize = 13, LearningRate = 1e-2, WarmupSteps = 0, MaxGradNorm = 0, CenterRewardsCoefficient = 0.01 };
        using var trainer = RewardModelTrainer.Create(RewardModelTrainerTests.FreshModel(), Tok, pairs, options, seed: 2);
        var metrics = trainer.Step(group);
        var trainable = trainer.Model.TrainableParameters().Select(p => p.Param).ToArray();
        return (metrics, Flatten(trainable, gradients: true), Flatten(trainable, gradients: false));
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void Reward_model_ranks_apply_the_whole_batch_bradley_terry_gradient(int ranks)
    {
        var whole = TrainRewardModel(null);
        var group = new ThreadGroup(ranks).Run(TrainRewardModel);
        GroupAssert.RanksAgree(group);
        GroupAssert.SameSum(whole.Gradient, group[0].Gradient, $"reward model, {ranks} ranks");
        Assert.Equal(whole.Metrics.Loss, group[0].Metrics.Loss, 5);
        Assert.Equal(whole.Metrics.Accuracy, group[0].Metrics.Accuracy, 5);
        Assert.Equal(whole.Metrics.MeanMargin, group[0].Metrics.MeanMargin, 5);
    }
}
