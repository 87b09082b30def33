using RlhfActors.Training.IO;

namespace RlhfActors.Training.Checkpoints;

/// <summary>File names inside a checkpoint folder, shared by writer and reader.</summary>
public static class CheckpointFiles
{
    public const string OptimizerState = "optimizer.safetensors";
    public const string TrainerState = "trainer_state.json";

    /// <summary>Files every checkpoint must list; the weights must additionally be either
    /// <see cref="HfModelFolder.SingleWeightsFile"/> or <see cref="HfModelFolder.IndexFile"/> (with its shards).</summary>
    public static readonly IReadOnlyList<string> Required = new[] { HfModelFolder.ConfigFile, OptimizerState, TrainerState };
}
