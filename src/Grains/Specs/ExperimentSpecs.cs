using System.Text.Json;
using System.Text.Json.Nodes;
using RlhfActors.Abstractions.Config;
using RlhfActors.Training.Data;
using RlhfActors.Training.Model;
using RlhfActors.Training.Sft;
using RlhfActors.Training.Tasks;
using RlhfActors.Training.Tokenization;

namespace RlhfActors.Grains.Specs;

/// <summary>Turns the wire config (<see cref="ExperimentConfig"/>) into the Training layer's specs. Errors name the
/// YAML field they come from.</summary>
public static class ExperimentSpecs
{
    public static DataSpec Data(ExperimentConfig config) => new()
    {
        Task = config.Data.Task,
        TaskParameters = config.Data.TaskParameters,
        TrainExamples = config.Data.TrainExamples,
        EvalExamples = config.Data.EvalExamples,
        TrainFile = config.Data.TrainFile,
        EvalFile = config.Data.EvalFile,
        Seed = config.Seed,
        Tokenizer = config.Model.ResolvedTokenizer,
        Limits = Limits(config),
    };

    /// <summary>A watched earlier task's held-out set (eval.watch): generated from its own task and parameters with the
    /// experiment's seed; only its held-out half is read.</summary>
    public static DataSpec Watch(ExperimentConfig config, WatchTask watch) => new()
    {
        Task = watch.Task,
        TaskParameters = watch.TaskParameters,
        TrainExamples = 1,
        EvalExamples = watch.EvalExamples,
        Seed = config.Seed,
    };

    /// <summary>The caps every JSONL file of the run is read within.</summary>
    public static JsonlLimits Limits(ExperimentConfig config) => JsonlLimits.Default with { MaxLineBytes = config.Data.MaxLineBytes };

    /// <summary>The SFT stage's examples: the training set, or (data.teacher_carry_drop) a flawed teacher's version of
    /// it. Only SFT sees the flawed completions; GRPO prompts and held-out examples keep the exact answers.</summary>
    public static IReadOnlyList<PromptCompletion> SftDemonstrations(ExperimentConfig config, IReadOnlyList<PromptCompletion> train) =>
        config.Data.TeacherCarryDrop > 0
            ? CarryDroppingTeacher.Corrupt(train, config.Data.TeacherCarryDrop, StableSeed.Derive(config.Seed, 0x7EAC))
            : train;

    public static SftOptions Sft(ExperimentConfig config) => new()
    {
        // A GRPO run may skip the warm-up (sft.steps: 0); the learner still needs a valid schedule to exist.
        Steps = Math.Max(1, config.Sft.Steps),
        BatchSize = config.Sft.BatchSize,
        LearningRate = config.Sft.LearningRate,
        MinLearningRateRatio = config.Sft.MinLearningRateRatio,
        WarmupSteps = config.Sft.WarmupSteps,
        WeightDecay = config.Sft.WeightDecay,
        Beta1 = config.Sft.AdamBeta1,
        Beta2 = config.Sft.AdamBeta2,
        MaxGradNorm = config.Sft.MaxGradNorm,
        MaxNonfiniteSteps = config.MaxNonfiniteSteps,
        CompletionOnlyLoss = config.Sft.CompletionOnlyLoss,
    };

    /// <summary>A compute dtype (<c>model.dtype</c>, <c>model.sampler_dtype</c>) as the safetensors name weights
    /// travel in.</summary>
    public static string WireDType(ModelDType dtype) => dtype switch
    {
        ModelDType.Bf16 => "BF16",
        ModelDType.Fp32 => "F32",
        _ => throw ConfigNames.Undefined("model.dtype", dtype),
    };

    /// <summary>
    /// Where the policy's weights start. For <c>init: scratch</c> the YAML's model.config is completed from the
    /// tokenizer (vocab_size, bos_token_id, eos_token_id when omitted, so the checkpoint's config.json stops
    /// generation where training taught it to) and validated. For a folder, its config.json is read.
    /// </summary>
    public static ModelSource Model(ModelSection model)
    {
        if (!model.IsScratch)
        {
            if (!Directory.Exists(model.Init))
                throw new DirectoryNotFoundException($"model.init: folder '{model.Init}' does not exist");
            var configPath = Path.Combine(model.Init, "config.json");
            if (!File.Exists(configPath))
                throw new FileNotFoundException($"model.init: '{model.Init}' has no config.json (not a Hugging Face model folder)", configPath);
            return new ModelSource { Path = model.Init, Config = ModelConfig.Load(configPath), DType = model.DType.Yaml() };
        }

        if (string.IsNullOrWhiteSpace(model.ConfigJson))
            throw new InvalidDataException("model.config is required when model.init is scratch");
        var node = JsonNode.Parse(model.ConfigJson) as JsonObject
                   ?? throw new InvalidDataException("model.config must be a mapping of config.json fields");
        if (!node.ContainsKey("vocab_size") || !node.ContainsKey("eos_token_id") || !node.ContainsKey("bos_token_id"))
        {
            var tokenizer = TokenizerFiles.Create(model.ResolvedTokenizer);
            if (!node.ContainsKey("vocab_size")) node["vocab_size"] = tokenizer.VocabSize;
            else if (node["vocab_size"]!.GetValue<int>() < tokenizer.VocabSize)
                throw new InvalidDataException(
                    $"model.config.vocab_size is {node["vocab_size"]} but tokenizer '{model.ResolvedTokenizer}' has {tokenizer.VocabSize} tokens");
            if (!node.ContainsKey("eos_token_id")) node["eos_token_id"] = tokenizer.EosId;
            if (!node.ContainsKey("bos_token_id") && tokenizer.BosId is { } bos) node["bos_token_id"] = bos;
        }
        var config = ModelConfig.Parse(node.ToJsonString(), "model.config");
        return new ModelSource { Config = config, DType = model.DType.Yaml() };
    }

    /// <summary>Parses the learner's config.json for a sampler.</summary>
    public static ModelConfig ModelConfigFromJson(string json)
    {
        try { return ModelConfig.Parse(json, "learner model config"); }
        catch (JsonException e) { throw new InvalidDataException($"learner model config: {e.Message}", e); }
    }
}
