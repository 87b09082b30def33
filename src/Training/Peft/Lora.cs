using TorchSharp;
using RlhfActors.Training.IO;
using RlhfActors.Training.Model;
using RlhfActors.Training.Weights;
using static TorchSharp.torch;

namespace RlhfActors.Training.Peft;

/// <summary>
/// LoRA / QLoRA on a <see cref="DecoderModel"/>: attach, merge, switch off, and move adapters in and out.
/// A training stage under PEFT starts with <see cref="BeginStage"/>: the first freezes the base (quantising it to NF4
/// under QLoRA) and attaches fresh adapters; a later one merges the previous stage's adapter into the base and starts a
/// fresh one — so the reference of an RL stage (the base with adapters off) is the policy the stage started from.
/// </summary>
public static class Lora
{
    /// <summary>The layers <paramref name="settings"/> targets, with their parameter paths.</summary>
    public static IEnumerable<(string Name, CastLinear Layer)> Targets(DecoderModel model, LoraSettings settings) =>
        model.Linears().Where(l => settings.TargetModules.Contains(l.Name[(l.Name.LastIndexOf('.') + 1)..]));

    /// <summary>Freezes every base parameter, quantises targeted base weights to NF4 when
    /// <see cref="LoraSettings.QuantizeBase"/>, and attaches fresh adapters (B = 0: the model still equals its base).</summary>
    public static void Attach(DecoderModel model, LoraSettings settings, long seed)
    {
        var errors = settings.Errors().ToArray();
        if (errors.Length > 0) throw new ArgumentException("peft: " + string.Join("; ", errors));
        if (model.Lora is not null) throw new InvalidOperationException("the model already has LoRA adapters: use BeginStage to start a new one");
        foreach (var p in model.parameters()) p.requires_grad = false;
        var generator = new Generator((ulong)seed);
        foreach (var (_, layer) in Targets(model, settings))
        {
            if (settings.QuantizeBase) layer.QuantizeBase(Nf4BlockSize, settings.DoubleQuant);
            layer.AttachLora(settings, model.LoraSwitch, generator);
        }
        model.Lora = settings;
    }

    /// <summary>Seed streams (<see cref="Tasks.StableSeed"/>) of the adapters' A initialisation, per stage.</summary>
    public const int SftSeedStream = 0x10A0, GrpoSeedStream = 0x10A1;

    /// <summary>QLoRA's block size: 64 weights share one absmax scale.</summary>
    public const int Nf4BlockSize = 64;

    /// <summary>Starts a PEFT training stage: attaches adapters to a model that has none, or merges the adapters of
    /// the stage before into the base and attaches fresh ones (skipped when <paramref name="previousStageTrained"/>
    /// is false: a stage of zero steps left nothing to merge).</summary>
    public static void BeginStage(DecoderModel model, LoraSettings settings, long seed, bool previousStageTrained = true)
    {
        if (model.Lora is null) { Attach(model, settings, seed); return; }
        if (!model.Lora.SameAs(settings)) throw new InvalidOperationException("a PEFT stage must keep the run's peft settings");
        if (!previousStageTrained) return;
        var generator = new Generator((ulong)seed);
        foreach (var (_, layer) in Targets(model, settings)) layer.MergeLora(settings, generator);
    }

    /// <summary>The adapter tensors (PEFT's parameter names without the base_model.model. prefix), fp32.</summary>
    public static IReadOnlyList<TensorBytes> ExportAdapter(DecoderModel model) =>
        model.named_parameters().Where(p => IsAdapterName(p.name))
            .Select(p => TorchTensors.FromTorch(p.name, p.parameter)).ToArray();

    /// <summary>Copies adapter tensors into the model's LoRA branches; every branch must be given, shapes must match.</summary>
    public static void LoadAdapter(DecoderModel model, IReadOnlyList<TensorBytes> adapter, string source)
    {
        if (model.Lora is null) throw new InvalidOperationException($"{source}: the model has no LoRA adapters to load into");
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var given = adapter.ToDictionary(t => t.Name);
        var mine = model.named_parameters().Where(p => IsAdapterName(p.name)).ToDictionary(p => p.name, p => p.parameter);
        foreach (var name in given.Keys.Where(n => !mine.ContainsKey(n)))
            throw new InvalidDataException($"{source}: adapter tensor '{name}' has no LoRA branch in this model (target_modules {string.Join(", ", model.Lora.TargetModules)})");
        foreach (var (name, p) in mine)
        {
            if (!given.TryGetValue(name, out var t)) throw new InvalidDataException($"{source}: missing adapter tensor '{name}'");
            if (!t.Shape.SequenceEqual(p.shape))
                throw new InvalidDataException($"{source}: adapter tensor '{name}' has shape [{string.Join(", ", t.Shape)}], the model needs [{string.Join(", ", p.shape)}]");
            p.copy_(TorchTensors.ToTorch(t).to(p.dtype));
        }
    }

    /// <summary>Sets every adapter to zero (B = 0): the model computes its base.</summary>
    public static void ZeroAdapters(DecoderModel model)
    {
        using var _ = no_grad();
        foreach (var (_, p) in model.named_parameters().Where(p => p.name.EndsWith(".lora_B.weight"))) p.zero_();
    }

    /// <summary>The base weights with every adapter merged in: a plain model any tool loads (Hugging Face names).</summary>
    public static IReadOnlyList<TensorBytes> ExportMerged(DecoderModel model)
    {
        var deltas = model.Linears().Where(l => l.Layer.HasLora).ToDictionary(l => l.Name + ".weight", l => l.Layer);
        return ModelFactory.ExportWeights(model).Select(w =>
        {
            if (!deltas.TryGetValue(w.Name, out var layer)) return w;
            using var scope = NewDisposeScope();
            var merged = TorchTensors.ToTorch(w).to(ScalarType.Float32) + layer.MergedDelta().cpu();
            return TorchTensors.FromTorch(w.Name, merged.to(TorchTensors.ToScalarType(w.DType)));
        }).ToArray();
    }

    /// <summary>The inverse of <see cref="ExportMerged"/>: the base weights a merged model came from, W − (α/r)·B A in
    /// fp32 for every linear layer the adapter targets (other weights pass through), cast back to each weight's
    /// stored dtype. Lets an export ship a base for the adapter when the run's own base is not a local folder.</summary>
    public static IReadOnlyList<TensorBytes> Unmerge(IReadOnlyList<TensorBytes> merged, PeftAdapter adapter, string source)
    {
        var tensors = adapter.Tensors.ToDictionary(t => t.Name);
        var layers = tensors.Keys.Where(n => n.EndsWith(".lora_A.weight", StringComparison.Ordinal))
            .Select(n => n[..^".lora_A.weight".Length]).ToHashSet(StringComparer.Ordinal);
        var byName = merged.ToDictionary(w => w.Name);
        foreach (var layer in layers.Where(l => !byName.ContainsKey(l + ".weight")))
            throw new InvalidDataException($"{source}: the adapter adapts '{layer}', but the merged weights have no '{layer}.weight'");
        return merged.Select(w =>
        {
            if (!w.Name.EndsWith(".weight", StringComparison.Ordinal) || !layers.Contains(w.Name[..^".weight".Length])) return w;
            var layer = w.Name[..^".weight".Length];
            using var scope = NewDisposeScope();
            var a = TorchTensors.ToTorch(tensors[layer + ".lora_A.weight"]).to(ScalarType.Float32);
            var b = TorchTensors.ToTorch(tensors[layer + ".lora_B.weight"]).to(ScalarType.Float32);
            var weight = TorchTensors.ToTorch(w).to(ScalarType.Float32);
            var delta = b.matmul(a) * adapter.Settings.Scale;
            if (!delta.shape.SequenceEqual(weight.shape))
                throw new InvalidDataException($"{source}: adapter of '{layer}' gives a [{string.Join(", ", delta.shape)}] update, the weight is [{string.Join(", ", weight.shape)}]");
            return TorchTensors.FromTorch(w.Name, (weight - delta).to(TorchTensors.ToScalarType(w.DType)));
        }).ToArray();
    }

    /// <summary>Runs <paramref name="body"/> on the bare base (every LoRA branch off): the reference policy under LoRA.</summary>
    public static T WithAdaptersOff<T>(DecoderModel model, Func<T> body)
    {
        bool was = model.LoraSwitch.Enabled;
        model.LoraSwitch.Enabled = false;
        try { return body(); }
        finally { model.LoraSwitch.Enabled = was; }
    }

    public static bool IsAdapterName(string parameterName) =>
        parameterName.EndsWith(".lora_A.weight", StringComparison.Ordinal) || parameterName.EndsWith(".lora_B.weight", StringComparison.Ordinal);
}
