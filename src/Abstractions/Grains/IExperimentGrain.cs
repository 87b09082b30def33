using Orleans.Concurrency;
using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Experiments;
using RlhfActors.Abstractions.Messaging;

namespace RlhfActors.Abstractions.Grains;

/// <summary>The controller of one experiment (key: experiment id). Drives learner, policy registry and samplers
/// from a grain timer; callers poll <see cref="GetStatus"/>.</summary>
[Alias("rlhf.IExperimentGrain")]
public interface IExperimentGrain : IGrainWithStringKey
{
    /// <summary>Validates the config and starts the run in the background; returns once it has started.
    /// Throws <see cref="ArgumentException"/> naming the field for a bad config, and
    /// <see cref="InvalidOperationException"/> while a run is in progress.</summary>
    [Alias("Start")]
    Task Start(ExperimentConfig config);

    /// <summary>Like <see cref="Start"/>, but continues from the newest checkpoint in the config's output_dir (an
    /// interrupted run's, after its whole cluster was gone): the checkpoint must have been trained with this very
    /// config (<see cref="ArgumentException"/> names every difference). SFT runs only, so far.</summary>
    [Alias("StartFromCheckpoint")]
    Task StartFromCheckpoint(ExperimentConfig config);

    /// <summary>Answers at once, even while a training call is in flight: read-only, so it may interleave.</summary>
    [AlwaysInterleave, Alias("GetStatus")]
    Task<ExperimentStatus> GetStatus();

    /// <summary>Stops a running or paused experiment after its current unit of work (a chunk of steps, an
    /// evaluation), checkpoints the last completed step (when a step completed; the path lands in
    /// <see cref="ExperimentStatus.CheckpointPath"/>) and then frees its learner and sampler; state becomes
    /// <see cref="ExperimentState.Stopped"/>. No-op in any other state.
    /// Not interleaved on purpose: it waits for the chunk in flight, so the stop never lands mid-update.</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("Stop")]
    Task<ExperimentStatus> Stop(string reason);

    /// <summary>Pauses a running experiment after its current unit of work; state becomes
    /// <see cref="ExperimentState.Paused"/> and the learner keeps its model in memory. Throws
    /// <see cref="InvalidOperationException"/> naming the state when the experiment is not running.
    /// Not interleaved, like <see cref="Stop"/>: it waits for the chunk in flight.</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("Pause")]
    Task<ExperimentStatus> Pause();

    /// <summary>Continues a paused experiment from the step it paused at. Throws
    /// <see cref="InvalidOperationException"/> naming the state when the experiment is not paused.</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("Resume")]
    Task<ExperimentStatus> Resume();

    /// <summary>Whole lines of the run's metrics.jsonl from byte <paramref name="offset"/> (up to
    /// <see cref="MetricsChunk.MaxBytes"/>), or its last <paramref name="tailLines"/> lines when that is &gt; 0. Read-only,
    /// so it may interleave with a training call.</summary>
    [AlwaysInterleave, Alias("ReadMetrics")]
    Task<MetricsChunk> ReadMetrics(long offset, int tailLines);

    /// <summary>The result once <see cref="ExperimentState.Completed"/>; null before.</summary>
    [AlwaysInterleave, Alias("GetResult")]
    Task<ExperimentResult?> GetResult();
}
