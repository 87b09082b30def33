using System.Text.Json.Nodes;
using RlhfActors.Abstractions.Config;
using RlhfActors.Training.Checkpoints;
using RlhfActors.Training.IO;

namespace RlhfActors.Grains.Specs;

/// <summary>
/// The SHA-256 of every file a run reads its starting point from, by the config field that names it: the initial
/// policy (model.init), the reward model's and the decoder judge's folders (file → hash, as a checkpoint manifest
/// lists its own), the tokenizer, and the dataset files. Folders that are our checkpoints are verified against their
/// manifest on the way, so a corrupt one is refused here with both hashes. Recorded in every checkpoint's provenance
/// next to the config's hash, so a score traces to the bytes it came from, not to paths that may since have changed.
/// </summary>
public static class InputDigests
{
    public static string ComputeJson(ExperimentConfig config)
    {
        var inputs = new JsonObject();
        void Folder(string field, string? folder)
        {
            if (folder is null) return;
            var files = new JsonObject();
            foreach (var (name, sha) in ModelFolderDigest.Compute(folder)) files[name] = sha;
            inputs[field] = files;
        }
        void File(string field, string? path)
        {
            if (path is null) return;
            if (Directory.Exists(path)) Folder(field, path);
            else inputs[field] = Hashing.Sha256Hex(path);
        }

        if (!config.Model.IsScratch) Folder("model.init", config.Model.Init);
        if (config.Model.Tokenizer is { } tokenizer && tokenizer != "char") File("model.tokenizer", tokenizer);
        File("data.train_file", config.Data.TrainFile);
        File("data.eval_file", config.Data.EvalFile);
        if (config.TrainsRewardModel)
        {
            Folder("reward_model.init", config.RewardModel.Init);
            File("reward_model.pairs.train_file", config.RewardModel.Pairs.TrainFile);
            File("reward_model.pairs.eval_file", config.RewardModel.Pairs.EvalFile);
        }
        if (config.IsDpo || config.IsRlaif)
        {
            File("dpo.pairs.train_file", config.Dpo.Pairs.TrainFile);
            File("dpo.pairs.eval_file", config.Dpo.Pairs.EvalFile);
        }
        if (config.IsRlaif && config.Rlaif.Judge.Type == JudgeType.Decoder) Folder("rlaif.judge.model", config.Rlaif.Judge.Model);
        if (config.IsDistill) Folder("distill.teacher", config.Distill.Teacher);
        if (config.IsOnlineDpo && config.OnlineDpo.Judge.Type == JudgeType.Decoder) Folder("online_dpo.judge.model", config.OnlineDpo.Judge.Model);
        return inputs.ToJsonString();
    }
}
