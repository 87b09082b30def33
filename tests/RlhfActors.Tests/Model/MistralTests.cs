using RlhfActors.Training.Model;
using RlhfActors.Training.Sampling;
using static TorchSharp.torch;

namespace RlhfActors.Tests.Model;

/// <summary>
/// Mistral: Llama's layout with a sliding attention window. A query at index q sees keys q − w + 1 … q only, so with
/// one layer a token more than w − 1 back cannot move a later logit; within the window the model is Llama's; KV-cache
/// decoding past the window gives what a full forward gives; the architecture name is Mistral's.
/// </summary>
public sealed class MistralTests
{
    static ModelConfig Mistral(int? window, int layers = 1) =>
        TinyModels.Llama() with { ModelType = "mistral", SlidingWindow = window, NumHiddenLayers = layers };

    [Fact]
    public void A_token_outside_the_window_does_not_reach_a_later_position()
    {
        using var model = TinyModels.Create(Mistral(window: 4));
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var ids = tensor(new long[] { 3, 5, 7, 9, 11, 13, 15, 17 }).unsqueeze(0);
        var changed = tensor(new long[] { 30, 29, 28, 27, 11, 13, 15, 17 }).unsqueeze(0);   // positions 0..3 differ
        var a = model.Forward(ids);
        var b = model.Forward(changed);
        // Position 7 sees 4..7 only: identical. Position 6 sees 3..6: token 3 differs, so it must move.
        Assert.True(a.narrow(1, 7, 1).allclose(b.narrow(1, 7, 1), rtol: 0, atol: 1e-6), "position 7 saw a token outside its window");
        Assert.False(a.narrow(1, 6, 1).allclose(b.narrow(1, 6, 1), rtol: 1e-4, atol: 1e-5), "position 6 did not see index 3, which is inside its window");
    }

    [Fact]
    public void Within_the_window_it_is_llama()
    {
        using var mistral = TinyModels.Create(Mistral(window: 8, layers: 2), seed: 9);
        using var llama = TinyModels.Create(TinyModels.Llama(), seed: 9);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var ids = tensor(new long[] { 3, 5, 7, 9, 11, 13, 15, 17, 19, 21 }).unsqueeze(0);
        Assert.True(mistral.Forward(ids.narrow(1, 0, 8)).allclose(llama.Forward(ids.narrow(1, 0, 8)), rtol: 0, atol: 1e-6));
        Assert.False(mistral.Forward(ids).allclose(llama.Forward(ids), rtol: 1e-4, atol: 1e-5), "past the window the band must change the logits");
    }

    [Fact]
    public void Cached_decoding_past_the_window_equals_the_full_forward()
    {
        using var model = TinyModels.Create(Mistral(window: 5, layers: 2));
        var prompts = new[] { new[] { 4, 8, 15, 16 } };
        var options = new SamplingOptions { Greedy = true, MaxNewTokens = 16 };
        var cached = Sampler.Generate(model, prompts, options, useKvCache: true);
        var uncached = Sampler.Generate(model, prompts, options, useKvCache: false);
        Assert.Equal(uncached.Ids[0], cached.Ids[0]);
        for (int i = 0; i < 16; i++) Assert.Equal(uncached.LogProbs[0][i], cached.LogProbs[0][i], 3);
    }

    [Fact]
    public void The_config_round_trips_with_its_window_and_architecture()
    {
        const string json = """{"model_type": "mistral", "vocab_size": 16, "hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "sliding_window": 4096}""";
        var config = ModelConfig.Parse(json, "m/config.json");
        Assert.Equal(4096, config.AttentionWindow);
        var saved = ModelConfig.Parse(config.ToJson(), "saved");
        Assert.Equal(4096, saved.SlidingWindow);
        Assert.Equal(["MistralForCausalLM"], saved.Architectures!);
        // Qwen2 names a window too but applies it only under use_sliding_window.
        Assert.Null(ModelConfig.Parse(json.Replace("mistral", "qwen2"), "q").AttentionWindow);
        var e = Assert.Throws<InvalidDataException>(() => ModelConfig.Parse(json.Replace("4096", "0"), "m/config.json"));
        Assert.Contains("field 'sliding_window' must be > 0", e.Message);
    }
}
