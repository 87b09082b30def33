using RlhfActors.Training.Model;
using RlhfActors.Training.Sampling;
using static TorchSharp.torch;

namespace RlhfActors.Tests.Model;

public sealed class SamplerTests
{
    static readonly int[][] Prompts = { new[] { 4, 8, 15 }, new[] { 16, 23, 4, 2, 9, 11, 30 }, new[] { 1 } };

    [Fact]
    public void Cached_greedy_equals_uncached_greedy_token_for_token()
    {
        using var model = TinyModels.Create(TinyModels.Llama(kvHeads: 2));
        var options = new SamplingOptions { Greedy = true, MaxNewTokens = 20 };
        var cached = Sampler.Generate(model, Prompts, options, useKvCache: true);
        var uncached = Sampler.Generate(model, Prompts, options, useKvCache: false);
        for (int b = 0; b < Prompts.Length; b++)
        {
            Assert.Equal(20, cached.Ids[b].Length);
            Assert.Equal(uncached.Ids[b], cached.Ids[b]);
            for (int i = 0; i < 20; i++) Assert.Equal(uncached.LogProbs[b][i], cached.LogProbs[b][i], 3);
        }
    }

    [Fact]
    public void Batched_left_padded_generation_equals_one_prompt_at_a_time()
    {
        using var model = TinyModels.Create(TinyModels.Llama());
        var options = new SamplingOptions { Greedy = true, MaxNewTokens = 12 };
        var batched = Sampler.Generate(model, Prompts, options);
        for (int b = 0; b < Prompts.Length; b++)
            Assert.Equal(Sampler.Generate(model, new[] { Prompts[b] }, options).Ids[0], batched.Ids[b]);
    }

    [Theory]
    [InlineData(true, 1.0, 0, 1.0)]
    [InlineData(false, 0.7, 10, 0.9)]
    public void Returned_logprobs_equal_one_full_forward_over_prompt_and_completion(bool greedy, double temperature, int topK, double topP)
    {
        using var model = TinyModels.Create(TinyModels.Llama());
        var options = new SamplingOptions { Greedy = greedy, Temperature = temperature, TopK = topK, TopP = topP, MaxNewTokens = 15, Seed = 5 };
        var result = Sampler.Generate(model, Prompts, options);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        for (int b = 0; b < Prompts.Length; b++)
        {
            var full = Prompts[b].Concat(result.Ids[b]).Select(i => (long)i).ToArray();
            var logits = model.Forward(tensor(full).unsqueeze(0))[0] / (greedy ? 1.0 : temperature);
            var logp = logits.log_softmax(-1);
            for (int i = 0; i < result.Ids[b].Length; i++)
            {
                int at = Prompts[b].Length - 1 + i;
                float expected = logp[at, result.Ids[b][i]].item<float>();
                Assert.Equal(expected, result.LogProbs[b][i], 3);
            }
        }
    }

    [Fact]
    public void Stop_token_ends_a_row_and_is_kept()
    {
        using var model = TinyModels.Create(TinyModels.Llama());
        var free = Sampler.Generate(model, Prompts, new SamplingOptions { Greedy = true, MaxNewTokens = 10 });
        int stopAt = free.Ids[1][3];
        var stopped = Sampler.Generate(model, Prompts, new SamplingOptions { Greedy = true, MaxNewTokens = 10, StopTokens = new[] { stopAt } });
        int first = Array.IndexOf(free.Ids[1], stopAt);
        Assert.Equal(free.Ids[1].Take(first + 1), stopped.Ids[1]);
    }

    [Fact]
    public void Same_seed_same_samples_and_top_k_one_is_greedy()
    {
        using var model = TinyModels.Create(TinyModels.Llama());
        var sampling = new SamplingOptions { Temperature = 1.0, MaxNewTokens = 12, Seed = 11 };
        var a = Sampler.Generate(model, Prompts, sampling);
        var b = Sampler.Generate(model, Prompts, sampling);
        Assert.Equal(a.Ids[1], b.Ids[1]);
        var topOne = Sampler.Generate(model, Prompts, sampling with { TopK = 1 });
        var greedy = Sampler.Generate(model, Prompts, new SamplingOptions { Greedy = true, MaxNewTokens = 12 });
        Assert.Equal(greedy.Ids[0], topOne.Ids[0]);
    }

    [Fact]
    public void Top_p_keeps_the_smallest_nucleus()
    {
        using var scope = NewDisposeScope();
        // probabilities 0.5, 0.3, 0.15, 0.05
        var logits = tensor(new float[] { 0.5f, 0.3f, 0.15f, 0.05f }).log().unsqueeze(0);
        var kept = TokenFilters.TopP(logits, 0.75).isinf().logical_not().data<bool>().ToArray();
        Assert.Equal(new[] { true, true, false, false }, kept);
        var kept2 = TokenFilters.TopK(logits, 3).isinf().logical_not().data<bool>().ToArray();
        Assert.Equal(new[] { true, true, true, false }, kept2);
    }
}
