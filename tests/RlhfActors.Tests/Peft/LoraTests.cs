using RlhfActors.Tests.Model;
using RlhfActors.Training.Data;
using RlhfActors.Training.Evaluation;
using RlhfActors.Training.IO;
using RlhfActors.Training.Model;
using RlhfActors.Training.Peft;
using RlhfActors.Training.Sampling;
using RlhfActors.Training.Sft;
using TorchSharp;
using static TorchSharp.torch;

namespace RlhfActors.Tests.Peft;

public sealed class LoraTests
{
    static readonly long[][] Inputs = [[1, 5, 9, 2, 7, 3], [4, 4, 8, 1, 0, 6]];

    static Tensor Logits(DecoderModel model)
    {
        using var _ = no_grad();
        return model.Forward(tensor(Inputs.SelectMany(r => r).ToArray(), new long[] { 2, 6 })).detach();
    }

    /// <summary>Random B (a trained adapter, as far as the math cares).</summary>
    static void Perturb(DecoderModel model, long seed)
    {
        using var _ = no_grad();
        var gen = new Generator((ulong)seed);
        foreach (var (name, p) in model.named_parameters().Where(p => p.name.EndsWith("lora_B.weight")))
            p.copy_(0.1 * randn(p.shape, generator: gen));
    }

    [Fact]
    public void Fresh_adapters_leave_the_model_equal_to_its_base_and_only_they_train()
    {
        using var model = TinyModels.Create(TinyModels.Llama(tied: false, type: "qwen2", bias: true));
        var before = Logits(model);
        var settings = new LoraSettings { Rank = 4, Alpha = 8 };
        Lora.Attach(model, settings, seed: 1);
        Assert.Equal(0, (Logits(model) - before).abs().max().item<float>());

        var trainable = model.TrainableParameters().ToArray();
        Assert.All(trainable, p => Assert.True(Lora.IsAdapterName(p.Name), p.Name));
        // 7 targeted layers per block × 2 blocks; each adds r·(in + out).
        var c = model.Config;
        long perLayer = 4 * (c.HiddenSize + c.NumAttentionHeads * c.HeadDim) + 2 * 4 * (c.HiddenSize + c.KeyValueHeads * c.HeadDim)
                        + 4 * (c.NumAttentionHeads * c.HeadDim + c.HiddenSize) + 2 * 4 * (c.HiddenSize + c.IntermediateSize) + 4 * (c.IntermediateSize + c.HiddenSize);
        Assert.Equal(2 * perLayer, trainable.Sum(p => p.Param.numel()));
        Assert.Equal(28, trainable.Length);
        Assert.Contains(trainable, p => p.Name == "model.layers.0.self_attn.q_proj.lora_A.weight");
        Assert.DoesNotContain(model.named_parameters(), p => p.name.StartsWith("lm_head.lora"));
    }

    [Fact]
    public void Adapter_output_is_the_base_plus_scaled_low_rank_update()
    {
        using var model = TinyModels.Create(TinyModels.Llama());
        Lora.Attach(model, new LoraSettings { Rank = 2, Alpha = 6, TargetModules = ["q_proj"] }, seed: 2);
        Perturb(model, 5);
        var (name, layer) = model.Linears().First(l => l.Name.EndsWith("q_proj"));
        using var scope = NewDisposeScope();
        var x = randn(3, model.Config.HiddenSize);
        var expected = x.matmul(layer.Weight!.t()) + 3.0 * x.matmul(layer.LoraA!.weight.t()).matmul(layer.LoraB!.weight.t());
        Assert.True(torch.allclose(layer.forward(x), expected, rtol: 1e-5, atol: 1e-6), name);
    }

    [Fact]
    public void Switching_adapters_off_gives_the_base_and_merging_gives_the_same_model()
    {
        using var model = TinyModels.Create(TinyModels.Llama(tied: false));
        var baseLogits = Logits(model);
        Lora.Attach(model, new LoraSettings { Rank = 4, Alpha = 8 }, seed: 3);
        Perturb(model, 6);
        var adapted = Logits(model);
        Assert.True((adapted - baseLogits).abs().max().item<float>() > 1e-2, "the perturbed adapter changes the output");
        Assert.Equal(0, (Lora.WithAdaptersOff(model, () => Logits(model)) - baseLogits).abs().max().item<float>());

        // A plain model loaded with the merged weights computes what base + adapters compute.
        using var plain = new DecoderModel(model.Config);
        ModelFactory.LoadWeights(plain, Lora.ExportMerged(model), "merged");
        Assert.True(torch.allclose(Logits(plain), adapted, rtol: 1e-4, atol: 1e-4));

        // Merging in place (the start of a new PEFT stage) keeps the function and restarts B at zero.
        Lora.BeginStage(model, model.Lora!, seed: 9);
        Assert.True(torch.allclose(Logits(model), adapted, rtol: 1e-4, atol: 1e-4));
        Assert.All(model.named_parameters().Where(p => p.name.EndsWith("lora_B.weight")), p => Assert.Equal(0, p.parameter.abs().max().item<float>()));
        // …and the merged model is the new base the adapters switch off to.
        Assert.True(torch.allclose(Lora.WithAdaptersOff(model, () => Logits(model)), adapted, rtol: 1e-4, atol: 1e-4));
    }

    [Fact]
    public void Adapters_round_trip_and_bad_ones_are_refused_by_name()
    {
        using var model = TinyModels.Create(TinyModels.Llama());
        var settings = new LoraSettings { Rank = 4, Alpha = 8, TargetModules = ["q_proj", "v_proj"] };
        Lora.Attach(model, settings, seed: 4);
        Perturb(model, 7);
        var adapter = Lora.ExportAdapter(model);
        Assert.Equal(2 * 2 * 2, adapter.Count);

        using var other = TinyModels.Create(TinyModels.Llama());
        Lora.Attach(other, settings, seed: 5);
        Lora.LoadAdapter(other, adapter, "test");
        Assert.Equal(0, (Logits(other) - Logits(model)).abs().max().item<float>());

        var missing = Assert.Throws<InvalidDataException>(() => Lora.LoadAdapter(other, adapter.Skip(1).ToArray(), "a.safetensors"));
        Assert.Contains("a.safetensors: missing adapter tensor 'model.layers.0.self_attn.q_proj.lora_A.weight'", missing.Message);
        var extra = adapter.Append(adapter[0] with { Name = "model.layers.0.mlp.up_proj.lora_A.weight" }).ToArray();
        Assert.Contains("up_proj.lora_A.weight' has no LoRA branch", Assert.Throws<InvalidDataException>(() => Lora.LoadAdapter(other, extra, "x")).Message);
        var wrongRank = adapter.Select(t => t.Name.EndsWith("q_proj.lora_A.weight") && t.Name.Contains("layers.1") ? t with { Shape = [2, 64] } : t).ToArray();
        Assert.Contains("needs [4, 32]", Assert.Throws<InvalidDataException>(() => Lora.LoadAdapter(other, wrongRank, "x")).Message);
        Assert.Contains("target_modules: 'lm_head'", Assert.Throws<ArgumentException>(() =>
            Lora.Attach(new DecoderModel(TinyModels.Llama()), settings with { TargetModules = ["lm_head"] }, 1)).Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Lora_and_qlora_sft_learn_while_the_base_stays_bit_identical(bool qlora)
    {
        var data = ExperimentData.Load(new DataSpec
        {
            Task = "reverse", TaskParameters = new Dictionary<string, int> { ["length"] = 3 }, TrainExamples = 1000, EvalExamples = 20, Seed = 4,
        });
        var config = new ModelConfig
        {
            VocabSize = 0, HiddenSize = 64, IntermediateSize = 128, NumHiddenLayers = 2, NumAttentionHeads = 4,
            NumKeyValueHeads = 2, MaxPositionEmbeddings = 32, TieWordEmbeddings = true, RmsNormEps = 1e-5,
        };
        var spec = new SftLearnerSpec(new ModelSource { Config = config }, "char", data.Train,
            new SftOptions { Steps = 40, BatchSize = 16, LearningRate = 1e-2, WarmupSteps = 0 }, Seed: 4,
            Peft: new LoraSettings { Rank = 4, Alpha = 8, QuantizeBase = qlora });
        using var learner = SftLearner.Create(spec);
        var baseBefore = ModelFactory.ExportWeights(learner.Model);
        double first = learner.Step().Loss, last = first;
        for (int i = 1; i < 40; i++) last = learner.Step().Loss;
        Assert.True(last < first - 0.3, $"loss {first} → {last}");
        var baseAfter = ModelFactory.ExportWeights(learner.Model);
        Assert.Equal(baseBefore.Select(w => (w.Name, Convert.ToHexString(w.Data))), baseAfter.Select(w => (w.Name, Convert.ToHexString(w.Data))));
        // ExportWeights is the policy (adapters merged), not the base.
        const string q = "model.layers.0.self_attn.q_proj.weight";
        Assert.NotEqual(Convert.ToHexString(baseAfter.First(w => w.Name == q).Data), Convert.ToHexString(learner.ExportWeights().First(w => w.Name == q).Data));
    }

    [Fact]
    public void Each_row_of_a_multi_adapter_batch_generates_what_its_adapter_generates_alone()
    {
        var config = TinyModels.Llama(tied: false);
        using var trainedA = TinyModels.Create(config);
        var settingsA = new LoraSettings { Rank = 4, Alpha = 8 };
        Lora.Attach(trainedA, settingsA, seed: 11);
        Perturb(trainedA, 12);
        using var trainedB = TinyModels.Create(config);
        var settingsB = new LoraSettings { Rank = 2, Alpha = 2, TargetModules = ["q_proj", "down_proj"] };
        Lora.Attach(trainedB, settingsB, seed: 13);
        Perturb(trainedB, 14);

        using var server = TinyModels.Create(config);
        using var bank = AdapterBank.Install(server, [
            new NamedAdapter("a", settingsA, Lora.ExportAdapter(trainedA)),
            new NamedAdapter("b", settingsB, Lora.ExportAdapter(trainedB))]);
        int[][] prompts = [[1, 2, 3], [4, 5, 6, 7], [8, 9], [10, 11, 12], [3, 3, 3, 3, 3]];
        string?[] rows = ["a", "b", null, "b", "a"];
        var options = new SamplingOptions { Greedy = true, MaxNewTokens = 8 };
        GenerationResult mixed;
        using (bank.Route(rows)) mixed = Sampler.Generate(server, prompts, options);

        for (int i = 0; i < prompts.Length; i++)
        {
            var alone = rows[i] switch
            {
                "a" => Sampler.Generate(trainedA, [prompts[i]], options),
                "b" => Sampler.Generate(trainedB, [prompts[i]], options),
                _ => Lora.WithAdaptersOff(trainedA, () => Sampler.Generate(trainedA, [prompts[i]], options)),
            };
            Assert.Equal(alone.Ids[0], mixed.Ids[i]);
            for (int t = 0; t < alone.LogProbs[0].Length; t++) Assert.Equal(alone.LogProbs[0][t], mixed.LogProbs[i][t], 4);
        }
        // The adapters really differ: row outputs of a and b are not all the same as the base's.
        Assert.NotEqual(mixed.Ids[0], Sampler.Generate(server, [prompts[0]], options).Ids[0]);
    }

    [Fact]
    public void Qlora_holds_the_base_in_nf4_and_its_forward_equals_the_dequantised_weights_forward()
    {
        var config = TinyModels.Llama(tied: false) with { HiddenSize = 64, IntermediateSize = 128, NumAttentionHeads = 4 };
        using var model = TinyModels.Create(config);
        var denseBytes = model.Linears().Where(l => l.Name.Contains("layers")).Sum(l => l.Layer.Weight!.numel() * 4);
        Lora.Attach(model, new LoraSettings { Rank = 4, Alpha = 8, QuantizeBase = true }, seed: 21);
        Perturb(model, 22);
        var targets = model.Linears().Where(l => l.Name.Contains("layers")).ToArray();
        Assert.All(targets, l => { Assert.Null(l.Layer.Weight); Assert.NotNull(l.Layer.Quantized); });
        Assert.DoesNotContain(model.named_parameters(), p => p.name.EndsWith("q_proj.weight"));
        Assert.True(targets.Sum(l => l.Layer.Quantized!.StorageBytes) <= 0.16 * denseBytes);

        // The same adapters on a dense model whose weights are the dequantised NF4 values: the same function.
        var adapted = Logits(model);
        using var dense = new DecoderModel(config);
        ModelFactory.LoadWeights(dense, ModelFactory.ExportWeights(model), "dequantised");
        Lora.Attach(dense, model.Lora! with { QuantizeBase = false }, seed: 1);
        Lora.LoadAdapter(dense, Lora.ExportAdapter(model), "adapter");
        Assert.True(torch.allclose(Logits(dense), adapted, rtol: 1e-5, atol: 1e-5));

        // bf16 compute dequantises straight to bf16 and still matches the dense model run in bf16.
        model.ComputeType = dense.ComputeType = ScalarType.BFloat16;
        Assert.True(torch.allclose(Logits(model), Logits(dense), rtol: 1e-2, atol: 1e-2));
    }
}
