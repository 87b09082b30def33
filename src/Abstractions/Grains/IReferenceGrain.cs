using System.Collections.Immutable;
using RlhfActors.Abstractions.Messaging;
using RlhfActors.Abstractions.Placement;
using RlhfActors.Abstractions.Rollouts;

namespace RlhfActors.Abstractions.Grains;

/// <summary>The frozen reference policy of an experiment (key: experiment id): log-probs of completions for the KL
/// term. Only asked when β &gt; 0.</summary>
[Alias("rlhf.IReferenceGrain")]
public interface IReferenceGrain : IGrainWithStringKey
{
    /// <summary>Builds the model and loads policy version <see cref="ReferenceInit.Version"/> from the experiment's
    /// policy registry; idempotent for the same init.</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("Initialize")]
    Task Initialize(ReferenceInit init);

    /// <summary>Per-row log-probs (at <paramref name="temperature"/>) of each completion token.</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("LogProbs")]
    Task<ImmutableArray<float[]>> LogProbs(RolloutBatchMessage rollouts, double temperature);

    [Alias("GetPlacement")]
    Task<GrainPlacement> GetPlacement();

    [Alias("Release")]
    Task Release();
}
