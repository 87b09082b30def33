using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using RlhfActors.Abstractions.Config;
using RlhfActors.Training.Data;

namespace RlhfActors.Grains.Specs;

/// <summary>Hashes recorded as checkpoint provenance.</summary>
public static class Digests
{
    /// <summary>
    /// The config's training settings as canonical JSON with the YAML's own keys and layout (model.config as an
    /// object, task parameters sorted). Leaves out output_dir and the source file name: where a run writes, and
    /// which file described it, do not change what it trains. Recorded in checkpoints next to its hash.
    /// </summary>
    public static string ConfigToJson(ExperimentConfig c)
    {
        var taskParameters = new JsonObject();
        foreach (var (key, value) in c.Data.TaskParameters) taskParameters[key] = value;
        var json = new JsonObject
        {
            ["name"] = c.Name,
            ["algorithm"] = c.Algorithm,
            ["seed"] = c.Seed,
            ["model"] = new JsonObject
            {
                ["init"] = c.Model.Init,
                ["dtype"] = c.Model.DType,
                ["tokenizer"] = c.Model.ResolvedTokenizer,
                ["config"] = c.Model.ConfigJson is { } config ? JsonNode.Parse(config) : null,
            },
            ["data"] = new JsonObject
            {
                ["task"] = c.Data.Task,
                ["task_parameters"] = taskParameters,
                ["train_examples"] = c.Data.TrainExamples,
                ["eval_examples"] = c.Data.EvalExamples,
                ["train_file"] = c.Data.TrainFile,
                ["eval_file"] = c.Data.EvalFile,
            },
            ["sft"] = new JsonObject
            {
                ["steps"] = c.Sft.Steps,
                ["batch_size"] = c.Sft.BatchSize,
                ["learning_rate"] = c.Sft.LearningRate,
                ["warmup_steps"] = c.Sft.WarmupSteps,
                ["min_learning_rate_ratio"] = c.Sft.MinLearningRateRatio,
                ["weight_decay"] = c.Sft.WeightDecay,
                ["adam_beta1"] = c.Sft.AdamBeta1,
                ["adam_beta2"] = c.Sft.AdamBeta2,
                ["max_grad_norm"] = c.Sft.MaxGradNorm,
                ["completion_only_loss"] = c.Sft.CompletionOnlyLoss,
            },
            ["eval"] = new JsonObject { ["every"] = c.Eval.Every, ["max_new_tokens"] = c.Eval.MaxNewTokens },
            ["checkpoint"] = new JsonObject { ["every"] = c.Checkpoint.Every },
        };
        return json.ToJsonString();
    }

    /// <summary>SHA-256 of <see cref="ConfigToJson"/>: the same settings hash the same whichever file (or code)
    /// they came from.</summary>
    public static string ConfigSha256(ExperimentConfig config) => Sha256(ConfigToJson(config));

    static string Sha256(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
}
