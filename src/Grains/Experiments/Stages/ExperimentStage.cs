namespace RlhfActors.Grains.Experiments.Stages;

/// <summary>
/// One stage of an experiment's plan (SFT, reward model, GRPO, PPO, DPO, RLAIF rounds). The controller starts it
/// once, then steps it one unit of work per tick (a chunk of steps, one online update, one round) until it says it
/// is done. A stage owns its fields; those a resume needs are its <see cref="SaveState"/>, which the controller keeps
/// in its record after every tick and writes into every checkpoint.
/// </summary>
public abstract class ExperimentStage(RunContext run)
{
    protected RunContext Run => run;

    /// <summary>The stage's name in the status and the result (sft, reward_model, grpo, ppo, dpo, rlaif).</summary>
    public abstract string Name { get; }

    /// <summary>Sets the stage up: its learner mode, its role grains, its data.</summary>
    public abstract Task StartAsync();

    /// <summary>One unit of work; true once the stage is done (its summary recorded).</summary>
    public abstract Task<bool> StepAsync();

    /// <summary>Null when a started stage can continue from its saved state and the learner's checkpoint; otherwise
    /// why not (the run is then reported interrupted when it loses a worker).</summary>
    public virtual string? CannotResume(Abstractions.Config.ExperimentConfig config) => $"the {Name} stage cannot resume from a checkpoint yet";

    /// <summary>What the stage needs beyond the learner's checkpoint to continue exactly, as JSON.</summary>
    public virtual string SaveState() => "";

    /// <summary>Continues a started stage after the learner was restored (from a checkpoint, or kept at the recorded
    /// step): rebuilds the stage's fields from <paramref name="state"/> and its role grains (idempotently).</summary>
    public virtual Task RestoreAsync(string state) =>
        throw new NotSupportedException($"the {Name} stage has no restore");

    /// <summary>Whether the stage's own workers (beyond the learner) still hold the state of the step the record
    /// holds, so a recovery that kept the learner can continue from the record; false sends it to the newest
    /// checkpoint. <paramref name="state"/>: the record's stage state.</summary>
    public virtual Task<bool> WorkersAtRecordedStateAsync(string state) => Task.FromResult(true);

    /// <summary>Before <c>checkpoint-&lt;step&gt;</c> is written: the stage saves what the learner's checkpoint does
    /// not hold (the PPO critic), so that the checkpoint's cursor can name it.</summary>
    public virtual Task BeforeCheckpointAsync(int step) => Task.CompletedTask;

    /// <summary>Checkpoint folders the stage still reads (a reference frozen at the stage's start), kept by
    /// <c>checkpoint.keep</c>'s pruning.</summary>
    public virtual IEnumerable<string> PinnedCheckpoints => [];
}
