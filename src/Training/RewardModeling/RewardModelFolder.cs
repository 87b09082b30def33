using System.Text.Json;
using System.Text.Json.Nodes;
using RlhfActors.Training.IO;
using RlhfActors.Training.Scoring;
using RlhfActors.Training.Tokenization;
using static TorchSharp.torch;

namespace RlhfActors.Training.RewardModeling;

/// <summary>
/// A reward model as a Hugging Face folder: <c>config.json</c> (the body's config with
/// <c>"architectures": ["LlamaForSequenceClassification"]</c> — Qwen2's for a Qwen2 body — and <c>"num_labels": 1</c>,
/// so <c>AutoModelForSequenceClassification</c> loads it) and <c>model.safetensors</c> (<c>model.*</c> + <c>score.weight</c>),
/// plus the tokenizer's files when given (<see cref="TokenizerFiles.FilesFor"/>), so <see cref="TokenizerFiles.Create"/> on the
/// folder finds it.
/// </summary>
public static class RewardModelFolder
{
    public static void Write(string directory, ScalarHeadModel model, ITokenizer? tokenizer = null)
    {
        ArgumentNullException.ThrowIfNull(directory);
        ArgumentNullException.ThrowIfNull(model);
        var config = model.Config with { Architectures = [model.Config.IsQwen3 ? "Qwen3ForSequenceClassification" : model.Config.IsQwen2 ? "Qwen2ForSequenceClassification" : model.Config.IsMistral ? "MistralForSequenceClassification" : "LlamaForSequenceClassification"] };
        HfModelFolder.Save(directory, config, model.ExportWeights());
        // ModelConfig has no num_labels (a decoder does not need one); add it, and the pad id HF reads to find each
        // row's last real token, to the JSON the config writes.
        var json = JsonNode.Parse(config.ToJson())!.AsObject();
        json["num_labels"] = 1;
        if (tokenizer is not null) json["pad_token_id"] = tokenizer.PadId;
        AtomicFile.WriteAllText(Path.Combine(directory, HfModelFolder.ConfigFile), json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        if (tokenizer is null) return;
        foreach (var (name, bytes) in TokenizerFiles.FilesFor(tokenizer))
            AtomicFile.Write(Path.Combine(directory, name), s => s.Write(bytes));
    }

    /// <summary>The reward model in <paramref name="directory"/>. A policy folder (no <c>score.weight</c>) or a
    /// classifier with other than one label is refused, naming the file.</summary>
    public static ScalarHeadModel Read(string directory, ScalarType computeType, Device device)
    {
        var content = HfModelFolder.Load(directory);
        var configPath = Path.Combine(directory, HfModelFolder.ConfigFile);
        if (JsonNode.Parse(File.ReadAllText(configPath)) is JsonObject raw && raw["num_labels"] is JsonNode labels
            && (labels.GetValueKind() != JsonValueKind.Number || labels.GetValue<double>() != 1))
            throw new InvalidDataException($"{configPath}: field 'num_labels' is {labels.ToJsonString()}; a reward model has 1");
        if (!content.Weights.Any(w => w.Name == ScalarHeadModel.HeadName))
        {
            var single = Path.Combine(directory, HfModelFolder.SingleWeightsFile);
            var weightsFile = File.Exists(single) ? single : Path.Combine(directory, HfModelFolder.IndexFile);
            throw new InvalidDataException($"{weightsFile}: no '{ScalarHeadModel.HeadName}' tensor; " +
                                           "this is not a reward model folder (a policy folder has no scalar head)");
        }
        return ScalarHeadModel.FromWeights(content.Config, content.Weights, computeType, device);
    }
}
