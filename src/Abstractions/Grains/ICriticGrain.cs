using System.Collections.Immutable;
using RlhfActors.Abstractions.Messaging;
using RlhfActors.Abstractions.Placement;
using RlhfActors.Abstractions.Preference;
using RlhfActors.Abstractions.Rollouts;

namespace RlhfActors.Abstractions.Grains;

/// <summary>PPO's critic (key: experiment id): a value model — a scalar head on a copy of the policy's body, its own
/// weights and optimizer — that gives V(s_t) for GAE and regresses on the returns with the clipped value loss.</summary>
[Alias("rlhf.ICriticGrain")]
public interface ICriticGrain : IGrainWithStringKey
{
    /// <summary>Builds the value model from policy version <see cref="CriticInit.Version"/>; idempotent for the same init.</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("Initialize")]
    Task Initialize(CriticInit init);

    /// <summary>V(s_t) per completion token of each row (row length = its completion length).</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("Values")]
    Task<ImmutableArray<float[]>> Values(RolloutBatchMessage rollouts);

    /// <summary>The value update (the config's PPO epochs × mini-batches of the clipped value loss).</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("Train")]
    Task<CriticStepResult> Train(CriticTrainRequest request);

    /// <summary>Writes the critic's checkpoint (weights, optimizer moments, step count; a verified folder) to
    /// <paramref name="directory"/> at the run's global <paramref name="step"/>; returns its full path.</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("SaveCheckpoint")]
    Task<string> SaveCheckpoint(string directory, int step);

    /// <summary>Rebuilds the critic from a checkpoint <see cref="SaveCheckpoint"/> wrote (a resumed run), whatever it
    /// holds now.</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("RestoreFrom")]
    Task RestoreFrom(CriticInit init, string directory);

    /// <summary>Critic updates done; -1 when it holds no model (never built, or lost with its silo).</summary>
    [Alias("GetStepsDone")]
    Task<int> GetStepsDone();

    [Alias("GetPlacement")]
    Task<GrainPlacement> GetPlacement();

    [Alias("Release")]
    Task Release();
}
