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
    public void A_kl_penalty_without_a_reference_model_is_refused()
    {
        using var policy = CharModel(1);
        var e = Assert.Throws<ArgumentException>(() => new GrpoLearner(policy, null, new GrpoOptions { Beta = 0.04 }, Tok.PadId));
        Assert.Contains("reference", e.Message);
    }

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
