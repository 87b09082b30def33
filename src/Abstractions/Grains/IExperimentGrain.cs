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

    /// <summary>Answers at once, even while a training call is in flight: read-only, so it may interleave.</summary>
    [AlwaysInterleave, Alias("GetStatus")]
    Task<ExperimentStatus> GetStatus();

    /// <summary>Stops a running experiment after its current unit of work (a chunk of steps, an evaluation) and
    /// frees its learner and sampler; state becomes <see cref="ExperimentState.Stopped"/>. No-op when not running.
    /// Not interleaved on purpose: it waits for the chunk in flight, so the stop never lands mid-update.</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("Stop")]
    Task<ExperimentStatus> Stop(string reason);

    /// <summary>The result once <see cref="ExperimentState.Completed"/>; null before.</summary>
    [AlwaysInterleave, Alias("GetResult")]
    Task<ExperimentResult?> GetResult();
}
