using RlhfActors.Tests.Model;
using RlhfActors.Training.Data;
using RlhfActors.Training.Model;
using RlhfActors.Training.Rl;
using RlhfActors.Training.Rollouts;
using RlhfActors.Training.Sampling;
using RlhfActors.Training.Sft;
using RlhfActors.Training.Tokenization;
using static TorchSharp.torch;

namespace RlhfActors.Tests.Rollouts;

public sealed class GrpoLearnerTests
{
    static readonly CharTokenizer Tok = CharTokenizer.Instance;
    static DecoderModel CharModel(long seed) => TinyModels.Create(TinyModels.Llama() with { VocabSize = Tok.VocabSize }, seed, std: 0.02);

    /// <summary>Probability mass the policy puts on an even token id as the first completion token.</summary>
    static double EvenFirstMass(DecoderModel model)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var prompt = EncodedExample.EncodePrompt(Tok, "x|");
        var probs = model.Forward(tensor(prompt.Select(i => (long)i).ToArray()).unsqueeze(0))[0, -1].softmax(-1);
        var even = arange(0, Tok.VocabSize, 2);
        return probs.index_select(0, even).sum().item<float>();
    }

    [Fact]
    public void Grpo_steps_move_probability_towards_rewarded_completions()
    {
        using var policy = CharModel(5);
        using var reference = CharModel(5);
        var options = new GrpoOptions { NumGenerations = 8, Beta = 0.01, MaxCompletionLength = 3, NumIterations = 2 };
        using var learner = new GrpoLearner(policy, reference, options, Tok.PadId);
        var prompts = Enumerable.Repeat(new PromptCompletion("x|", ""), 4).ToArray();
        double before = EvenFirstMass(policy);
        for (int step = 0; step < 15; step++)
        {
            var batch = GroupSampler.Sample(policy, Tok, prompts, options.NumGenerations,
                new SamplingOptions { MaxNewTokens = 3, Seed = step }, learner.PolicyVersion);
            var rewards = batch.CompletionIds.Select(c => c.Length > 0 && c[0] % 2 == 0 ? 1.0 : 0.0).ToArray();
            var metrics = learner.Step(batch, rewards, learningRate: 3e-3);
            Assert.Equal(step + 1, metrics.PolicyVersion);
            Assert.NotNull(metrics.MeanKl);
        }
        double after = EvenFirstMass(policy);
        Assert.True(after > before + 0.2, $"mass on rewarded first tokens {before:F3} → {after:F3}");
    }

    [Fact]
    public void A_kl_penalty_without_a_reference_model_or_reference_log_probs_is_refused()
    {
        using var policy = CharModel(1);
        using var learner = new GrpoLearner(policy, null, new GrpoOptions { NumGenerations = 2, Beta = 0.04 }, Tok.PadId);
        var batch = Sample(policy, version: 0);
        var e = Assert.Throws<ArgumentException>(() => learner.Step(batch, new[] { 1.0, 0.0 }, 1e-3));
        Assert.Contains("reference", e.Message);
    }

    [Fact]
    public void Precomputed_reference_log_probs_give_the_same_update_as_the_reference_model()
    {
        using var withModel = CharModel(4);
        using var withRows = CharModel(4);
        using var reference = CharModel(9);
        var options = new GrpoOptions { NumGenerations = 4, Beta = 0.1, MaxCompletionLength = 3 };
        using var a = new GrpoLearner(withModel, reference, options, Tok.PadId);
        using var b = new GrpoLearner(withRows, null, options, Tok.PadId);
        var batch = GroupSampler.Sample(withModel, Tok, new[] { new PromptCompletion("ab|", ""), new PromptCompletion("c|", "") }, 4,
            new SamplingOptions { MaxNewTokens = 3, Seed = 7 }, 0);
        var rewards = batch.CompletionIds.Select(c => (double)c.Length).ToArray();
        var rows = GrpoLearner.RowLogProbs(reference, batch, options.Temperature, Tok.PadId);

        var ma = a.Step(batch, rewards, 1e-2);
        var mb = b.Step(batch, rewards, 1e-2, rows);

        Assert.Equal(ma.MeanKl!.Value, mb.MeanKl!.Value, 6);
        Assert.Equal(ma.Loss, mb.Loss, 6);
        var wa = ModelFactory.ExportWeights(withModel);
        var wb = ModelFactory.ExportWeights(withRows);
        Assert.All(wa.Zip(wb), pair => Assert.Equal(pair.First.Data, pair.Second.Data));
    }

    [Fact]
    public void A_batch_older_than_max_staleness_is_dropped_in_drop_mode_and_leaves_the_weights_alone()
    {
        using var policy = CharModel(2);
        var options = new GrpoOptions { NumGenerations = 2, MaxStaleness = 1, MaxCompletionLength = 3 };
        using var learner = new GrpoLearner(policy, null, options, Tok.PadId, initialVersion: 5);
        var before = ModelFactory.ExportWeights(policy);

        var dropped = learner.Step(Sample(policy, version: 3), new[] { 1.0, 0.0 }, 1e-2);

        Assert.True(dropped.Dropped);
        Assert.Equal(2, dropped.Staleness);
        Assert.Equal(5, learner.PolicyVersion);
        Assert.Equal(0, learner.StepsDone);
        Assert.All(before.Zip(ModelFactory.ExportWeights(policy)), pair => Assert.Equal(pair.First.Data, pair.Second.Data));

        var trained = learner.Step(Sample(policy, version: 4), new[] { 1.0, 0.0 }, 1e-2);
        Assert.False(trained.Dropped);
        Assert.Equal(1, trained.Staleness);
        Assert.False(trained.ImportanceCorrected);
        Assert.Equal(6, learner.PolicyVersion);
    }

    [Fact]
    public void In_truncated_is_mode_a_stale_batch_is_trained_with_importance_weights()
    {
        using var policy = CharModel(2);
        var options = new GrpoOptions { NumGenerations = 2, MaxStaleness = 0, StaleMode = StaleRolloutMode.TruncatedIs, MaxCompletionLength = 3 };
        using var learner = new GrpoLearner(policy, null, options, Tok.PadId, initialVersion: 5);

        var metrics = learner.Step(Sample(policy, version: 3), new[] { 1.0, 0.0 }, 1e-2);

        Assert.False(metrics.Dropped);
        Assert.True(metrics.ImportanceCorrected);
        Assert.Equal(2, metrics.Staleness);
        Assert.Equal(6, learner.PolicyVersion);
    }

    static RolloutBatch Sample(DecoderModel policy, long version) =>
        GroupSampler.Sample(policy, Tok, new[] { new PromptCompletion("a|", "") }, 2, new SamplingOptions { MaxNewTokens = 3, Seed = 1 }, version);

    [Fact]
    public void Rollouts_from_a_future_policy_version_are_refused()
    {
        using var policy = CharModel(1);
        using var learner = new GrpoLearner(policy, null, new GrpoOptions { NumGenerations = 2 }, Tok.PadId);
        var batch = GroupSampler.Sample(policy, Tok, new[] { new PromptCompletion("a|", "") }, 2,
            new SamplingOptions { MaxNewTokens = 2 }, policyVersion: 3);
        Assert.Throws<ArgumentException>(() => learner.Step(batch, new[] { 1.0, 0.0 }, 1e-3));
    }
}

public sealed class GrpoLoopTests
{
    [Fact]
    public void The_in_process_loop_samples_scores_and_updates_through_the_reward_function()
    {
        var tok = CharTokenizer.Instance;
        using var policy = TinyModels.Create(TinyModels.Llama() with { VocabSize = tok.VocabSize }, 2, std: 0.02);
        var options = new GrpoOptions { NumGenerations = 4, MaxCompletionLength = 3 };
        using var learner = new GrpoLearner(policy, null, options, tok.PadId);
        var prompts = new[] { new PromptCompletion("1+1=", "2"), new PromptCompletion("2+2=", "4"), new PromptCompletion("3+3=", "6") };
        var loop = new GrpoLoop(learner, tok, prompts, RlhfActors.Training.Rewards.ExactMatchReward.Instance, options, promptsPerStep: 2, seed: 1);
        var first = loop.Step(1e-3);
        var second = loop.Step(1e-3);
        Assert.Equal(8, first.Sequences);
        Assert.Equal(2, second.Step);
        Assert.Equal(2, learner.PolicyVersion);
        Assert.InRange(first.MeanReward, 0, 1);
        Assert.True(first.CompletionTokens is > 0 and <= 8 * 3);
    }
}
