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

    [Alias("GetPlacement")]
    Task<GrainPlacement> GetPlacement();

    [Alias("Release")]
    Task Release();
}
