using RlhfActors.Training.Model;
using static TorchSharp.torch;

namespace RlhfActors.Tests.Model;

public sealed class DecoderModelTests
{
    [Fact]
    public void Parameter_names_are_hugging_face_names()
    {
        using var model = new DecoderModel(TinyModels.Llama(tied: false, type: "qwen2"));
        var names = model.named_parameters().Select(p => p.name).ToHashSet();
        Assert.Contains("model.embed_tokens.weight", names);
        Assert.Contains("model.layers.0.self_attn.q_proj.weight", names);
        Assert.Contains("model.layers.0.self_attn.q_proj.bias", names);   // Qwen2: q/k/v bias
        Assert.DoesNotContain("model.layers.0.self_attn.o_proj.bias", names); // …but no o bias
        Assert.Contains("model.layers.1.mlp.gate_proj.weight", names);
        Assert.Contains("model.layers.1.mlp.up_proj.weight", names);
        Assert.Contains("model.layers.1.mlp.down_proj.weight", names);
        Assert.Contains("model.layers.1.input_layernorm.weight", names);
        Assert.Contains("model.layers.1.post_attention_layernorm.weight", names);
        Assert.Contains("model.norm.weight", names);
        Assert.Contains("lm_head.weight", names);
        Assert.Equal(2 + 2 * 12 + 1, names.Count); // embed, lm_head, 12 per layer (9 weights + 3 biases), final norm
    }

    [Fact]
    public void Tied_model_has_no_lm_head_parameter()
    {
        using var model = new DecoderModel(TinyModels.Llama(tied: true));
        Assert.DoesNotContain(model.named_parameters(), p => p.name.StartsWith("lm_head"));
    }

    [Theory]
    [InlineData("llama", true, 2, false)]
    [InlineData("llama", false, 4, true)]
    [InlineData("qwen2", false, 1, false)]
    public void Forward_matches_scalar_reference_transcription_of_hugging_face(string type, bool tied, int kvHeads, bool bias)
    {
        var config = TinyModels.Llama(tied, kvHeads, type, bias);
        using var model = TinyModels.Create(config);
        var weights = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.data<float>().ToArray());
        var reference = new ReferenceLlama(config, weights).Forward(new[] { 5, 9, 1, 30, 12, 7 });

        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var logits = model.Forward(tensor(new long[] { 5, 9, 1, 30, 12, 7 }).unsqueeze(0))[0];
        var actual = logits.data<float>().ToArray();
        double maxDiff = 0;
        for (int t = 0; t < 6; t++)
        for (int v = 0; v < config.VocabSize; v++)
            maxDiff = Math.Max(maxDiff, Math.Abs(actual[t * config.VocabSize + v] - reference[t][v]));
        Assert.InRange(maxDiff, 0, 1e-3);
    }

    [Fact]
    public void A_qwen3_forward_matches_the_reference_with_its_query_and_key_norms()
    {
        // An explicit head_dim unlike hidden_size / heads (Qwen3 sets it), and norm weights that are not all ones.
        var config = TinyModels.Llama(tied: true, kvHeads: 2, type: "qwen3") with { HeadDimOverride = 16 };
        using var model = TinyModels.Create(config);
        using (no_grad())
            foreach (var (name, parameter) in model.named_parameters().Where(p => p.name.EndsWith("_norm.weight", StringComparison.Ordinal) && p.name.Contains("self_attn")))
                parameter.copy_(rand(parameter.shape, generator: manual_seed(name.Length)) + 0.5);
        var names = model.named_parameters().Select(p => p.name).ToHashSet();
        Assert.Contains("model.layers.0.self_attn.q_norm.weight", names);
        Assert.Contains("model.layers.1.self_attn.k_norm.weight", names);
        Assert.DoesNotContain("model.layers.0.self_attn.q_proj.bias", names); // Qwen3: no q/k/v bias unless attention_bias
        var weights = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.data<float>().ToArray());
        var reference = new ReferenceLlama(config, weights).Forward(new[] { 5, 9, 1, 30, 12, 7 });
        var withoutNorms = new ReferenceLlama(config, weights.Where(p => !p.Key.Contains("_norm.weight") || !p.Key.Contains("self_attn"))
            .ToDictionary(p => p.Key, p => p.Value)).Forward(new[] { 5, 9, 1, 30, 12, 7 });

        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var actual = model.Forward(tensor(new long[] { 5, 9, 1, 30, 12, 7 }).unsqueeze(0))[0].data<float>().ToArray();
        double maxDiff = 0, normsMatter = 0;
        for (int t = 0; t < 6; t++)
        for (int v = 0; v < config.VocabSize; v++)
        {
            maxDiff = Math.Max(maxDiff, Math.Abs(actual[t * config.VocabSize + v] - reference[t][v]));
            normsMatter = Math.Max(normsMatter, Math.Abs(reference[t][v] - withoutNorms[t][v]));
        }
        Assert.InRange(maxDiff, 0, 1e-3);
        Assert.True(normsMatter > 1e-2, $"the query/key norms move the logits by only {normsMatter:E2}: the comparison would prove nothing");
    }

    [Theory]
    [InlineData("\"use_sliding_window\": true, \"sliding_window\": 4096", "field 'use_sliding_window' is true")]
    [InlineData("\"mlp_bias\": true", "field 'mlp_bias' is true")]
    [InlineData("\"partial_rotary_factor\": 0.5", "field 'partial_rotary_factor' is 0.5")]
    [InlineData("\"model_type\": \"gemma\"", "field 'model_type' is 'gemma'")]
    public void A_field_that_changes_the_math_and_is_not_implemented_is_refused_by_name(string field, string expected)
    {
        var modelType = field.Contains("model_type", StringComparison.Ordinal) ? "" : "\"model_type\": \"qwen3\", ";
        var json = $"{{{modelType}\"vocab_size\": 16, \"hidden_size\": 8, \"intermediate_size\": 16, \"num_hidden_layers\": 1, \"num_attention_heads\": 2, {field}}}";
        var e = Assert.Throws<InvalidDataException>(() => ModelConfig.Parse(json, "m/config.json"));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Load_state_dict_names_the_missing_and_the_misshapen_tensor()
    {
        var config = TinyModels.Llama();
        using var model = TinyModels.Create(config);
        using var scope = NewDisposeScope();
        var state = model.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter.clone());

        var missing = new Dictionary<string, Tensor>(state);
        missing.Remove("model.norm.weight");
        var e1 = Assert.Throws<InvalidDataException>(() => model.LoadStateDict(missing, "x.safetensors"));
        Assert.Contains("model.norm.weight", e1.Message);

        var wrong = new Dictionary<string, Tensor>(state) { ["model.norm.weight"] = zeros(7) };
        var e2 = Assert.Throws<InvalidDataException>(() => model.LoadStateDict(wrong, "x.safetensors"));
        Assert.Contains("shape [7]", e2.Message);

        var extra = new Dictionary<string, Tensor>(state) { ["model.layers.9.mlp.up_proj.weight"] = zeros(2) };
        var e3 = Assert.Throws<InvalidDataException>(() => model.LoadStateDict(extra, "x.safetensors"));
        Assert.Contains("unexpected tensor 'model.layers.9.mlp.up_proj.weight'", e3.Message);
    }

    [Fact]
    public void Bf16_compute_stays_close_to_fp32()
    {
        using var model = TinyModels.Create(TinyModels.Llama(), std: 0.05);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var ids = tensor(new long[] { 3, 4, 5, 6, 7, 8 }).unsqueeze(0);
        var fp32 = model.Forward(ids).log_softmax(-1);
        model.ComputeType = ScalarType.BFloat16;
        var bf16 = model.Forward(ids).log_softmax(-1);
        Assert.Equal(ScalarType.Float32, model.parameters().First().dtype); // master weights untouched
        Assert.InRange((bf16 - fp32).abs().max().item<float>(), 0, 0.1);
    }
}

public sealed class DecoderModelLifetimeTests
{
    [Fact]
    public void A_model_built_inside_a_dispose_scope_survives_the_scope()
    {
        DecoderModel model;
        using (var scope = NewDisposeScope())
        {
            model = new DecoderModel(TinyModels.Llama());
            model.InitializeWeights(1);
        }
        using (model)
        {
            Assert.All(model.parameters(), p => Assert.False(p.IsInvalid));
            Assert.Equal(2 + 2 * 9, model.named_parameters().Count()); // tied: embed + final norm + 9 per layer
            using var scope = NewDisposeScope();
            Assert.Equal(1.0f, model.named_parameters().First(p => p.name == "model.norm.weight").parameter[0].item<float>());
        }
    }
}

public sealed class InferenceCopyTests
{
    [Fact]
    public void Weights_stored_in_bf16_survive_the_scope_and_give_the_same_greedy_ids_as_bf16_compute_over_fp32_weights()
    {
        var config = TinyModels.Llama();
        using var master = TinyModels.Create(config, std: 0.05);
        master.ComputeType = ScalarType.BFloat16;
        var prompts = new[] { new[] { 3, 4, 5 }, new[] { 9, 1 } };
        var options = new RlhfActors.Training.Sampling.SamplingOptions { Greedy = true, MaxNewTokens = 10 };
        var expected = RlhfActors.Training.Sampling.Sampler.Generate(master, prompts, options);

        using var copy = new DecoderModel(config, ScalarType.BFloat16);
        RlhfActors.Training.Model.ModelFactory.LoadWeights(copy, RlhfActors.Training.Model.ModelFactory.ExportWeights(master), "master");
        using (NewDisposeScope()) copy.StoreWeightsInComputeType();
        Assert.All(copy.parameters(), p => Assert.Equal(ScalarType.BFloat16, p.dtype));
        Assert.All(copy.parameters(), p => Assert.False(p.IsInvalid));
        var actual = RlhfActors.Training.Sampling.Sampler.Generate(copy, prompts, options);
        Assert.Equal(expected.Ids[0], actual.Ids[0]);
        Assert.Equal(expected.Ids[1], actual.Ids[1]);
    }
}
