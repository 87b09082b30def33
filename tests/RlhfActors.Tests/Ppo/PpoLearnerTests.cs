using RlhfActors.Tests.Model;
using RlhfActors.Training.Data;
using RlhfActors.Training.Model;
using RlhfActors.Training.Peft;
using RlhfActors.Training.Rl;
using RlhfActors.Training.Rl.Ppo;
using RlhfActors.Training.Rollouts;
using RlhfActors.Training.Sampling;
using RlhfActors.Training.Scoring;
using RlhfActors.Training.Sft;
using RlhfActors.Training.Tokenization;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace RlhfActors.Tests.Ppo;

public sealed class PpoLearnerTests(ITestOutputHelper output)
{
    static readonly CharTokenizer Tok = CharTokenizer.Instance;
    static DecoderModel CharModel(long seed) => TinyModels.Create(TinyModels.Llama() with { VocabSize = Tok.VocabSize }, seed, std: 0.02);
    static ScalarHeadModel Critic(DecoderModel policy) =>
        ScalarHeadModel.FromPolicyWeights(policy.Config, ModelFactory.ExportWeights(policy), seed: 11, ScalarType.Float32, CPU);

    static RolloutBatch Sample(DecoderModel policy, int prompts, int seed, long version = 0) =>
        GroupSampler.Sample(policy, Tok, Enumerable.Range(0, prompts).Select(i => new PromptCompletion($"{(char)('a' + i)}|", "")).ToArray(), 1,
            new SamplingOptions { MaxNewTokens = 3, Seed = seed }, version);

    [Fact]
    public void A_step_takes_epochs_times_minibatches_optimizer_steps_and_returns_one_return_per_token()
    {
        using var policy = CharModel(3);
        using var reference = CharModel(3);
        var options = new PpoOptions { Epochs = 3, MiniBatches = 2, Temperature = 1.0, MaxCompletionLength = 3 };
        using var learner = new PpoPolicyLearner(policy, options, Tok.PadId);
        var batch = Sample(policy, prompts: 5, seed: 1);
        var values = batch.CompletionIds.Select(c => c.Select(_ => 0.1f).ToArray()).ToArray();
        var scores = batch.CompletionIds.Select(c => (double)c.Length).ToArray();
        var refRows = GrpoLearner.RowLogProbs(reference, batch, options.Temperature, Tok.PadId);

        var result = learner.Step(batch, scores, values, refRows, learningRate: 1e-3);

        Assert.Equal(6, result.Metrics.Updates);
        Assert.Equal(6, learner.OptimizerSteps);
        Assert.Equal(1, learner.PolicyVersion);
        Assert.Equal(0.0, result.Metrics.MeanKl!.Value, 5);   // policy = reference before the update
        Assert.Equal(batch.CompletionIds.Select(c => c.Length), result.Returns.Select(r => r.Length));
        Assert.Equal(batch.CompletionIds.Sum(c => c.Length), result.Metrics.CompletionTokens);
        // At the last token GAE gives A = r − V, so the return is that token's reward: the score (the KL is 0).
        for (int b = 0; b < batch.Count; b++) Assert.Equal((float)scores[b], result.Returns[b][^1], 4);
        Assert.True(double.IsFinite(result.Metrics.Loss) && double.IsFinite(result.Metrics.GradNorm));
    }

    [Fact]
    public void With_the_kl_in_the_loss_the_rewards_are_the_scores_and_a_missing_reference_is_refused()
    {
        using var policy = CharModel(4);
        using var reference = CharModel(8);
        var options = new PpoOptions { KlInReward = false, Beta = 0.1, Epochs = 1, MiniBatches = 1, Temperature = 1.0, Lambda = 1 };
        using var learner = new PpoPolicyLearner(policy, options, Tok.PadId);
        var batch = Sample(policy, prompts: 2, seed: 2);
        var values = batch.CompletionIds.Select(c => new float[c.Length]).ToArray();
        var scores = new[] { 1.0, 0.0 };
        Assert.Throws<ArgumentException>(() => learner.Step(batch, scores, values, null, 1e-3));

        var result = learner.Step(batch, scores, values, GrpoLearner.RowLogProbs(reference, batch, 1.0, Tok.PadId), 1e-3);
        // V = 0, γ = λ = 1, no KL in the reward: every token's return is the reward-to-go, exactly the score.
        for (int b = 0; b < 2; b++) Assert.All(result.Returns[b], r => Assert.Equal((float)scores[b], r, 5));
        Assert.True(result.Metrics.MeanKl > 0 || result.Metrics.MeanKl < 0);
    }

    [Fact]
    public void The_critic_explains_more_of_fixed_returns_step_after_step()
    {
        using var policy = CharModel(5);
        using var critic = Critic(policy);
        var options = new PpoOptions { Epochs = 2, MiniBatches = 2 };
        using var learner = new CriticLearner(critic, options, Tok.PadId);
        var batch = Sample(policy, prompts: 8, seed: 3);
        // Returns that depend on the prompt and the position: something a critic can fit.
        var returns = batch.CompletionIds.Select((c, b) => c.Select((_, t) => (float)(b % 2 == 0 ? 1 + 0.5 * t : -1)).ToArray()).ToArray();
        var first = learner.Step(batch, returns, learner.Values(batch), 1e-2);
        CriticStepMetrics last = first;
        for (int step = 0; step < 25; step++) last = learner.Step(batch, returns, learner.Values(batch), 1e-2);
        output.WriteLine($"explained variance {first.ExplainedVariance:F3} → {last.ExplainedVariance:F3}, value loss {first.ValueLoss:F4} → {last.ValueLoss:F4}");
        Assert.Equal(4, last.Updates);
        Assert.True(last.ExplainedVariance > 0.8 && last.ExplainedVariance > first.ExplainedVariance + 0.5,
            $"explained variance {first.ExplainedVariance:F3} → {last.ExplainedVariance:F3}");
        Assert.True(last.ValueLoss < first.ValueLoss);
    }

    [Fact]
    public void Under_lora_the_reference_is_the_policy_with_its_adapters_off()
    {
        using var policy = CharModel(7);
        Lora.Attach(policy, new LoraSettings { Rank = 4, Alpha = 8 }, seed: 1);
        var options = new PpoOptions { Beta = 0.1, Epochs = 2, MiniBatches = 1, Temperature = 1.0 };
        using var learner = new PpoPolicyLearner(policy, options, Tok.PadId);
        var batch = Sample(policy, prompts: 4, seed: 4);
        var values = batch.CompletionIds.Select(c => new float[c.Length]).ToArray();
        var scores = new[] { 1.0, 0.0, 1.0, 0.0 };

        var first = learner.Step(batch, scores, values, null, 1e-2);
        var second = learner.Step(batch, scores, values, null, 1e-2);

        Assert.Equal(0.0, first.Metrics.MeanKl!.Value, 5);     // adapters start at B = 0: policy = base
        Assert.NotEqual(0.0, second.Metrics.MeanKl!.Value);   // trained adapters moved the policy off the base
    }

    /// <summary>Probability the policy gives a lowercase letter as the first completion token after "x|".</summary>
    static double LowercaseFirstMass(DecoderModel model)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var prompt = EncodedExample.EncodePrompt(Tok, "x|");
        var probs = model.Forward(tensor(prompt.Select(i => (long)i).ToArray()).unsqueeze(0))[0, -1].softmax(-1);
        var letters = tensor(Enumerable.Range('a', 26).Select(c => (long)Tok.Encode(((char)c).ToString())[0]).ToArray());
        return probs.index_select(0, letters).sum().item<float>();
    }

    [Fact]
    public void Ppo_with_a_critic_raises_a_verifiable_reward()
    {
        using var policy = CharModel(6);
        using var reference = CharModel(6);
        using var criticModel = Critic(policy);
        var options = new PpoOptions
        {
            Epochs = 2, MiniBatches = 2, MaxCompletionLength = 3, Temperature = 1.0, Beta = 0.02,
            LearningRate = 3e-3, CriticLearningRate = 3e-3,
        };
        using var learner = new PpoPolicyLearner(policy, options, Tok.PadId);
        using var critic = new CriticLearner(criticModel, options, Tok.PadId);
        var prompts = Enumerable.Repeat(new PromptCompletion("x|", ""), 4).ToArray();
        // Verifiable toy reward: 1 when the completion starts with a lowercase letter.
        IReadOnlyList<double> Score(RolloutBatch batch) =>
            batch.CompletionTexts.Select(t => t.Length > 0 && char.IsAsciiLetterLower(t[0]) ? 1.0 : 0.0).ToArray();
        var loop = new PpoLoop(learner, critic, reference, Tok, prompts, Score, promptsPerStep: 16, completionsPerPrompt: 1, seed: 1);

        double before = LowercaseFirstMass(policy);
        var history = Enumerable.Range(0, 40).Select(_ => loop.Step()).ToArray();
        double after = LowercaseFirstMass(policy);
        double early = history.Take(5).Average(m => m.Policy.MeanScore), late = history.TakeLast(5).Average(m => m.Policy.MeanScore);
        output.WriteLine($"mean reward first 5 steps {early:F3}, last 5 {late:F3}; P(lowercase first) {before:F3} → {after:F3}; " +
            $"explained variance {history[1].Critic.ExplainedVariance:F3} → {history[^1].Critic.ExplainedVariance:F3}; " +
            $"KL {history[^1].Policy.MeanKl:F4}; {history.Sum(m => m.Policy.Seconds + m.Critic.Seconds):F1} s in updates");
        Assert.Equal(40, learner.PolicyVersion);
        Assert.True(after > before + 0.3, $"P(lowercase first) {before:F3} → {after:F3}");
        Assert.True(late > early + 0.3, $"mean reward {early:F3} → {late:F3}");
    }
}
