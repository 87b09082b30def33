using System.Text.Json;

namespace RlhfActors.Training.Checkpoints;

/// <summary>Reading a later stage's trainer_state.json (GRPO, DPO, PPO, the PPO critic): the same checks for all.</summary>
public static class StageState
{
    /// <summary>The checkpoint's trainer state as <typeparamref name="T"/>, refused unless it names
    /// <paramref name="stage"/> and was trained with <paramref name="seed"/>.</summary>
    public static T Read<T>(LoadedCheckpoint checkpoint, string directory, string stage, int seed, Func<T, string> stageOf, Func<T, int> seedOf)
    {
        var state = JsonSerializer.Deserialize<T>(checkpoint.TrainerStateJson)
            ?? throw new InvalidDataException($"{directory}: empty {CheckpointFiles.TrainerState}");
        if (stageOf(state) != stage) throw new InvalidDataException($"{directory}: a {stageOf(state)} checkpoint, not a {stage} one");
        if (seedOf(state) != seed) throw new InvalidDataException($"{directory}: checkpoint was trained with seed {seedOf(state)}, this run uses {seed}");
        return state;
    }
}
