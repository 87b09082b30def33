using RlhfActors.Tests.Model;
using RlhfActors.Training.Data;
using RlhfActors.Training.Model;
using RlhfActors.Training.Rollouts;
using RlhfActors.Training.Sampling;
using RlhfActors.Training.Tokenization;
using static TorchSharp.torch;

namespace RlhfActors.Tests.Rollouts;

public sealed class RolloutTests
{
    static DecoderModel CharModel() => TinyModels.Create(TinyModels.Llama() with { VocabSize = CharTokenizer.Instance.VocabSize }, std: 0.05);

    [Fact]
    public void Group_sampling_repeats_each_prompt_G_times_and_marks_truncation()
    {
        using var model = CharModel();
        var prompts = new[] { new PromptCompletion("ab|", "ba"), new PromptCompletion("xyz|", "zyx") };
        var batch = GroupSampler.Sample(model, CharTokenizer.Instance, prompts, groupSize: 4,
            new SamplingOptions { Temperature = 1.0, MaxNewTokens = 5, Seed = 3 }, policyVersion: 7);
        Assert.Equal(8, batch.Count);
        Assert.Equal(2, batch.Groups);
        Assert.Equal(7, batch.PolicyVersion);
        Assert.All(batch.Prompts.Take(4), p => Assert.Equal("ab|", p));
        Assert.All(batch.References.Skip(4), r => Assert.Equal("zyx", r));
        for (int i = 0; i < batch.Count; i++)
        {
            bool endsWithEos = batch.CompletionIds[i].Length > 0 && batch.CompletionIds[i][^1] == CharTokenizer.Instance.EosId;
            Assert.Equal(!endsWithEos, batch.Truncated[i]);
            Assert.Equal(batch.CompletionIds[i].Length, batch.BehaviourLogProbs[i].Length);
        }
        // Sampling noise makes a group's completions differ (an untrained model spreads its probability).
        Assert.True(batch.CompletionIds.Take(4).Select(c => string.Join(",", c)).Distinct().Count() > 1);
    }

    /// <summary>A tokenizer whose folder's generation_config.json names one more end id (an instruct model's end of
    /// turn beside the base's eos).</summary>
    sealed class WithEndOfTurn(ITokenizer inner, int endOfTurn) : ITokenizer
    {
        public int VocabSize => inner.VocabSize;
        public int PadId => inner.PadId;
        public int EosId => inner.EosId;
        public int? BosId => inner.BosId;
        public IReadOnlyList<int> StopIds => [inner.EosId, endOfTurn];
        public IReadOnlyList<int> Encode(string text) => inner.Encode(text);
        public string? TokenText(int id) => inner.TokenText(id);
        public string Decode(IEnumerable<int> ids) => inner.Decode(ids);
    }

    [Fact]
    public void A_rollout_ends_at_any_of_the_tokenizers_stop_ids_and_is_not_truncated_there()
    {
        using var model = CharModel();
        var prompts = new[] { new PromptCompletion("ab|", "ba") };
        var greedy = new SamplingOptions { Greedy = true, MaxNewTokens = 8 };
        var free = GroupSampler.Sample(model, CharTokenizer.Instance, prompts, 1, greedy, 0).CompletionIds[0];
        Assert.DoesNotContain(CharTokenizer.Instance.EosId, free);
        int endOfTurn = free[2], k = Array.IndexOf(free, endOfTurn);
        var batch = GroupSampler.Sample(model, new WithEndOfTurn(CharTokenizer.Instance, endOfTurn), prompts, 1, greedy, 0);
        Assert.Equal(free[..(k + 1)], batch.CompletionIds[0]);
        Assert.False(batch.Truncated[0]);
        Assert.Equal(CharTokenizer.Instance.Decode(free[..k]), batch.CompletionTexts[0]);
    }

    [Theory]
    [InlineData(1.0)]
    [InlineData(0.7)]
    public void Completion_log_probs_of_a_training_pass_equal_the_samplers_behaviour_log_probs(double temperature)
    {
        using var model = CharModel();
        var prompts = new[] { new PromptCompletion("hello|", "x"), new PromptCompletion("a|", "y") };
        var batch = GroupSampler.Sample(model, CharTokenizer.Instance, prompts, groupSize: 3,
            new SamplingOptions { Temperature = temperature, MaxNewTokens = 6, Seed = 9 }, policyVersion: 0);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var (logp, mask) = CompletionLogProbs.Compute(model, batch.PromptIds, batch.CompletionIds, temperature, CharTokenizer.Instance.PadId);
        for (int b = 0; b < batch.Count; b++)
        {
            int n = batch.CompletionIds[b].Length;
            Assert.Equal(n, (int)mask[b].sum().item<float>());
            for (int j = 0; j < n; j++) Assert.Equal(batch.BehaviourLogProbs[b][j], logp[b, j].item<float>(), 3);
        }
    }

    [Fact]
    public void Completion_log_probs_carry_gradients_to_the_policy()
    {
        using var model = CharModel();
        using var scope = NewDisposeScope();
        var (logp, mask) = CompletionLogProbs.Compute(model, new[] { new[] { 1, 40, 41 } }, new[] { new[] { 50, 2 } });
        (logp.sum() / mask.sum()).backward();
        Assert.Contains(model.parameters(), p => p.grad is not null && p.grad.abs().sum().item<float>() > 0);
    }
}
