using TorchSharp;
using TorchSharp.Modules;
using RlhfActors.Training.IO;
using RlhfActors.Training.Peft;
using static TorchSharp.torch;

namespace RlhfActors.Training.Model;

/// <summary>The transformer body; registered as "model" so parameter names match Hugging Face's
/// (model.embed_tokens.weight, model.layers.0.self_attn.q_proj.weight, …, model.norm.weight).</summary>
public sealed class DecoderBackbone : nn.Module<Tensor, Tensor>
{
    internal readonly Embedding embed_tokens;
    internal readonly ModuleList<DecoderLayer> layers;
    internal readonly RmsNorm norm;

    public DecoderBackbone(ModelConfig config) : base(nameof(DecoderBackbone))
    {
        embed_tokens = nn.Embedding(config.VocabSize, config.HiddenSize);
        layers = new ModuleList<DecoderLayer>(Enumerable.Range(0, config.NumHiddenLayers).Select(i => new DecoderLayer(config, i)).ToArray());
        norm = new RmsNorm(config.HiddenSize, config.RmsNormEps);
        register_module("embed_tokens", embed_tokens);
        register_module("layers", layers);
        register_module("norm", norm);
    }

    public override Tensor forward(Tensor x) => throw new NotSupportedException("call DecoderModel.Forward");
}

/// <summary>
/// A Llama / Qwen2 causal language model (Hugging Face's *ForCausalLM) in TorchSharp. Parameters are stored in
/// fp32 (or whatever <see cref="nn.Module.to(ScalarType)"/> made them) and every matrix product runs in
/// <see cref="ComputeType"/>, so bf16 compute keeps fp32 master weights for the optimizer.
/// </summary>
public sealed class DecoderModel : nn.Module<Tensor, Tensor>
{
    readonly DecoderBackbone model;
    readonly CastLinear? lm_head;

    public ModelConfig Config { get; }
    public ScalarType ComputeType { get; set; }
    /// <summary>The LoRA / QLoRA settings of the adapters attached by <see cref="Peft.Lora.Attach"/>; null when none.</summary>
    public LoraSettings? Lora { get; internal set; }
    /// <summary>Turns every LoRA branch of this model off (the bare base) or on.</summary>
    public LoraSwitch LoraSwitch { get; } = new();

    public DecoderModel(ModelConfig config, ScalarType computeType = ScalarType.Float32) : base(nameof(DecoderModel))
    {
        config.Validate("model config");
        Config = config;
        ComputeType = computeType;
        model = new DecoderBackbone(config);
        register_module("model", model);
        if (!config.TieWordEmbeddings)
        {
            lm_head = new CastLinear(config.HiddenSize, config.VocabSize, false);
            register_module("lm_head", lm_head);
        }
        // A model outlives the dispose scope it was built in (a device worker runs every job in one):
        // its parameters must not be freed with the scope's temporaries.
        foreach (var p in parameters()) p.DetachFromDisposeScope();
    }

    /// <summary>Hugging Face's init: N(0, 0.02) for linear and embedding weights, zero biases, unit norms.</summary>
    public void InitializeWeights(long seed, double std = 0.02)
    {
        using var _ = no_grad();
        var gen = new Generator((ulong)seed);
        foreach (var (name, p) in named_parameters())
        {
            if (name.EndsWith("norm.weight")) p.fill_(1.0);
            else if (name.EndsWith(".bias")) p.zero_();
            else p.copy_(normal(0.0, std, p.shape, ScalarType.Float32, generator: gen));
        }
    }

    public override Tensor forward(Tensor inputIds) => Forward(inputIds);

    /// <summary>
    /// Logits (fp32) for every position of <paramref name="inputIds"/> [B, T].
    /// <paramref name="positions"/> [B, T] defaults to cache length + 0..T−1.
    /// <paramref name="mask"/> bool [B, 1, T, Tk], true = may attend; null means plain causal attention within the
    /// input (right-padded training batches need no key mask: causality already keeps real tokens off the pads).
    /// </summary>
    public Tensor Forward(Tensor inputIds, Tensor? positions = null, Tensor? mask = null, KvCache? cache = null)
    {
        var hidden = HiddenStates(inputIds, positions, mask, cache);
        return OutputLogits(hidden);
    }

    /// <summary>Final-norm hidden states [B, T, hidden] in the compute dtype.</summary>
    public Tensor HiddenStates(Tensor inputIds, Tensor? positions = null, Tensor? mask = null, KvCache? cache = null)
    {
        long t = inputIds.shape[1];
        int past = cache?.Length ?? 0;
        positions ??= arange(past, past + t, ScalarType.Int64, inputIds.device).unsqueeze(0);
        if (mask is null && past > 0)
            throw new ArgumentException("a mask is required when decoding with a non-empty KV cache");
        mask = WithAttentionWindow(mask, past, t, inputIds.device);
        var (cos, sin) = RotaryEmbedding.CosSin(positions, Config, ComputeType);
        var h = model.embed_tokens.forward(inputIds).to(ComputeType);
        foreach (var layer in model.layers) h = layer.Forward(h, cos, sin, mask, cache);
        cache?.Advance((int)t);
        return model.norm.forward(h);
    }

    /// <summary>
    /// Mistral's sliding window, as transformers masks it: query index q may attend key index k only when
    /// 0 ≤ q − k &lt; sliding_window, indices counted in the sequence as stored (left padding included, as
    /// transformers' cache positions are). Combined with the caller's mask (or plain causality when there is none);
    /// unchanged when the sequence fits in the window, where the band removes nothing.
    /// </summary>
    Tensor? WithAttentionWindow(Tensor? mask, int past, long t, Device device)
    {
        if (Config.AttentionWindow is not { } window || past + t <= window) return mask;
        var queries = arange(past, past + t, ScalarType.Int64, device).unsqueeze(1);   // [T, 1]
        var keys = arange(0, past + t, ScalarType.Int64, device).unsqueeze(0);          // [1, Tk]
        var distance = queries - keys;
        var band = distance.ge(0).logical_and(distance.lt(window)).unsqueeze(0).unsqueeze(0); // [1, 1, T, Tk]
        return mask is null ? band : mask.logical_and(band);
    }

    public Tensor OutputLogits(Tensor hidden)
    {
        var logits = lm_head is not null
            ? lm_head.forward(hidden)
            : nn.functional.linear(hidden, model.embed_tokens.weight!.to(hidden.dtype));
        return logits.to(ScalarType.Float32);
    }

    /// <summary>Copies Hugging Face–named base weights into the model. Every base parameter must be present with the
    /// right shape; unexpected names are errors, except lm_head.weight of a tied model and rotary inv_freq buffers
    /// that old checkpoints carry. LoRA adapters are not part of a state dict (see <see cref="Peft.Lora.LoadAdapter"/>);
    /// a base held in NF4 is quantised again from the given weight.</summary>
    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> tensors, string source)
    {
        using var _ = no_grad();
        var parameters = named_parameters().Where(p => !Peft.Lora.IsAdapterName(p.name)).ToDictionary(p => p.name, p => p.parameter);
        var quantized = Linears().Where(l => l.Layer.Quantized is not null).ToDictionary(l => l.Name + ".weight", l => l.Layer);
        foreach (var (name, p) in parameters)
        {
            var t = Require(name, p.shape);
            p.copy_(t.to(p.dtype));
        }
        foreach (var (name, layer) in quantized)
            layer.ReplaceQuantizedBase(Require(name, new long[] { layer.OutFeatures, layer.InFeatures }));
        foreach (var name in tensors.Keys)
        {
            if (parameters.ContainsKey(name) || quantized.ContainsKey(name)) continue;
            if (name == "lm_head.weight" && Config.TieWordEmbeddings) continue;
            if (name.EndsWith("rotary_emb.inv_freq")) continue;
            throw new InvalidDataException($"{source}: unexpected tensor '{name}' (not a parameter of this {Config.ModelType} config)");
        }

        Tensor Require(string name, long[] shape)
        {
            if (!tensors.TryGetValue(name, out var t))
                throw new InvalidDataException($"{source}: missing tensor '{name}' (shape [{string.Join(", ", shape)}])");
            if (!t.shape.SequenceEqual(shape))
                throw new InvalidDataException($"{source}: tensor '{name}' has shape [{string.Join(", ", t.shape)}], the config needs [{string.Join(", ", shape)}]");
            return t;
        }
    }

    /// <summary>Every linear layer with its parameter path (model.layers.0.self_attn.q_proj, …, lm_head).</summary>
    public IEnumerable<(string Name, CastLinear Layer)> Linears() =>
        named_modules().Where(m => m.module is CastLinear).Select(m => (m.name, (CastLinear)m.module));

    /// <summary>The parameters an optimizer updates: all of them, or only the adapters under LoRA.</summary>
    public IEnumerable<(string Name, Parameter Param)> TrainableParameters() =>
        named_parameters().Where(p => p.parameter.requires_grad).Select(p => (p.name, p.parameter));

    /// <summary>Inference copies (samplers, evaluators, `rlhf generate`) have no optimizer and so need no fp32 master
    /// weights: storing them in the compute dtype saves casting every weight at every decoding step.</summary>
    public void StoreWeightsInComputeType()
    {
        if (parameters().All(p => p.dtype == ComputeType)) return;
        this.to(ComputeType);
        foreach (var p in parameters()) p.DetachFromDisposeScope();
    }

    public long ParameterCount() => parameters().Sum(p => p.numel());
}
