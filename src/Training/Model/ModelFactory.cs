using TorchSharp;
using RlhfActors.Training.IO;
using RlhfActors.Training.Peft;
using RlhfActors.Training.Sft;
using RlhfActors.Training.Weights;
using static TorchSharp.torch;

namespace RlhfActors.Training.Model;

/// <summary>Builds decoders from a <see cref="ModelSource"/> or a Hugging Face folder, and moves weights in and out
/// as <see cref="TensorBytes"/>.</summary>
public static class ModelFactory
{
    /// <summary>"bf16" or "fp32" (also the HF spellings bfloat16 / float32).</summary>
    public static ScalarType ParseComputeType(string dtype) => dtype.ToLowerInvariant() switch
    {
        "bf16" or "bfloat16" => ScalarType.BFloat16,
        "fp32" or "f32" or "float32" => ScalarType.Float32,
        _ => throw new ArgumentException($"dtype '{dtype}' is not supported; use bf16 or fp32"),
    };

    static int WeightBytes(ScalarType computeType) => computeType == ScalarType.BFloat16 ? 2 : 4;

    /// <summary>A fresh model from <paramref name="source"/>: loaded from its folder, or initialised from its config
    /// with <paramref name="seed"/>. <paramref name="vocabSize"/> fills in a scratch config's vocab_size when 0.</summary>
    public static DecoderModel Create(ModelSource source, int vocabSize, long seed, Device device)
    {
        var computeType = ParseComputeType(source.DType);
        if (source.Path is not null) return LoadFolder(source.Path, computeType, device, source.Verified);
        var config = source.Config ?? throw new ArgumentException("model source needs a path or a config");
        if (config.VocabSize == 0) config = config with { VocabSize = vocabSize };
        if (config.VocabSize < vocabSize)
            throw new ArgumentException($"model vocab_size {config.VocabSize} is smaller than the tokenizer's {vocabSize}");
        ModelMemory.ThrowIfTooLarge(config, WeightBytes(computeType), $"to hold its {computeType} weights", "model.config");
        var fresh = new DecoderModel(config, computeType);
        fresh.InitializeWeights(seed);
        fresh.to(device);
        return fresh;
    }

    /// <summary>Loads a Hugging Face folder, or a PEFT adapter folder (<see cref="ModelFolders.IsAdapterFolder"/>):
    /// its local base is loaded, LoRA attached (unquantised) and the adapter's tensors copied in, so anything that
    /// takes a model folder — <c>rlhf generate</c>, evaluators — takes an exported adapter too. A folder that is one of
    /// our checkpoints is verified against its manifest as it loads, unless <paramref name="verified"/> says the caller
    /// just did (the folder, and an adapter's base): hashing a multi-gigabyte model twice in a row buys nothing.</summary>
    public static DecoderModel LoadFolder(string folder, ScalarType computeType, Device device, bool verified = false)
    {
        if (ModelFolders.IsAdapterFolder(folder)) return LoadAdapterFolder(folder, computeType, device, verified);
        var model = LoadHfFolder(folder, computeType, verified);
        model.to(device);
        return model;
    }

    static DecoderModel LoadAdapterFolder(string folder, ScalarType computeType, Device device, bool verified)
    {
        var adapter = PeftAdapterFolder.Read(folder);
        var baseFolder = ModelFolders.ResolveBase(folder, adapter.BaseModelNameOrPath);
        // The base must be a plain folder: an adapter on an adapter is not a layout PEFT writes.
        if (ModelFolders.IsAdapterFolder(baseFolder))
            throw new InvalidDataException($"{Path.Combine(folder, PeftAdapterFolder.ConfigFile)}: base_model_name_or_path '{adapter.BaseModelNameOrPath}' is itself an adapter folder; it must be a full model folder");
        var model = LoadHfFolder(baseFolder, computeType, verified);
        try
        {
            Lora.Attach(model, adapter.Settings with { QuantizeBase = false }, seed: 0);
            Lora.LoadAdapter(model, adapter.Tensors, Path.Combine(folder, PeftAdapterFolder.WeightsFile));
        }
        catch
        {
            model.Dispose();
            throw;
        }
        model.to(device);
        return model;
    }

    static DecoderModel LoadHfFolder(string folder, ScalarType computeType, bool verified)
    {
        // The config alone says whether the weights can fit; checked before the safetensors are read.
        var configPath = Path.Combine(folder, HfModelFolder.ConfigFile);
        if (File.Exists(configPath))
            ModelMemory.ThrowIfTooLarge(ModelConfig.Load(configPath), WeightBytes(computeType), $"to hold its {computeType} weights", configPath);
        var content = HfModelFolder.Load(folder, verified);
        var model = new DecoderModel(content.Config, computeType);
        LoadWeights(model, content.Weights, folder);
        return model;
    }

    public static void LoadWeights(DecoderModel model, IReadOnlyList<TensorBytes> weights, string source)
    {
        using var scope = NewDisposeScope();
        var tensors = weights.ToDictionary(w => w.Name, w => TorchTensors.ToTorch(w));
        model.LoadStateDict(tensors, source);
    }

    /// <summary>The model's base weights with Hugging Face names: every parameter but LoRA adapters, and the NF4 bases
    /// of a QLoRA model dequantised to fp32 (the values its forward pass uses).</summary>
    public static IReadOnlyList<TensorBytes> ExportWeights(DecoderModel model)
    {
        var dense = model.named_parameters().Where(p => !Peft.Lora.IsAdapterName(p.name))
            .Select(p => TorchTensors.FromTorch(p.name, p.parameter));
        var quantized = model.Linears().Where(l => l.Layer.Quantized is not null).Select(l =>
        {
            using var scope = NewDisposeScope();
            return TorchTensors.FromTorch(l.Name + ".weight", l.Layer.Quantized!.Dequantize(ScalarType.Float32));
        });
        return dense.Concat(quantized).ToArray();
    }
}
