using RlhfActors.Training.IO;

namespace RlhfActors.Training.Checkpoints;

/// <summary>File names inside a checkpoint folder, shared by writer and reader.</summary>
public static class CheckpointFiles
{
    public const string OptimizerState = "optimizer.safetensors";
    public const string TrainerState = "trainer_state.json";
    /// <summary>Subfolder holding a LoRA run's adapter as a PEFT folder (the weights beside it are the merged policy).</summary>
    public const string AdapterFolder = "adapter";
    /// <summary>The experiment controller's cursor at the checkpoint's step (stage, stage state), so that the checkpoint
    /// alone is enough to continue the run; hashed in the manifest like every file.</summary>
    public const string ControllerState = "controller_state.json";

    /// <summary>The manifest names of the adapter's files.</summary>
    public static readonly IReadOnlyList<string> AdapterFiles =
        [$"{AdapterFolder}/{Peft.PeftAdapterFolder.ConfigFile}", $"{AdapterFolder}/{Peft.PeftAdapterFolder.WeightsFile}"];

    /// <summary>Files that only training needs: an export of the model leaves them out.</summary>
    public static readonly IReadOnlyList<string> TrainingOnly = [OptimizerState, TrainerState, ControllerState, CheckpointManifest.FileName];

    /// <summary>Files every checkpoint must list; the weights must additionally be either
    /// <see cref="HfModelFolder.SingleWeightsFile"/> or <see cref="HfModelFolder.IndexFile"/> (with its shards).</summary>
    public static readonly IReadOnlyList<string> Required = new[] { HfModelFolder.ConfigFile, OptimizerState, TrainerState };
}
