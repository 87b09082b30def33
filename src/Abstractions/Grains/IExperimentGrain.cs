using Orleans.Concurrency;
using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Experiments;

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

    /// <summary>The result once <see cref="ExperimentState.Completed"/>; null before.</summary>
    [AlwaysInterleave, Alias("GetResult")]
    Task<ExperimentResult?> GetResult();
}
