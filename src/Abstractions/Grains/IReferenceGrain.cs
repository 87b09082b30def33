using System.Collections.Immutable;
using RlhfActors.Abstractions.Messaging;
using RlhfActors.Abstractions.Placement;
using RlhfActors.Abstractions.Preference;
using RlhfActors.Abstractions.Rollouts;

namespace RlhfActors.Abstractions.Grains;

/// <summary>The frozen reference policy of an experiment (key: experiment id): log-probs of completions for the KL
/// term (GRPO / PPO, only asked when β &gt; 0) and of preference pairs for DPO (each pair computed once, then cached
/// until the grain freezes another version).</summary>
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

    /// <summary>Sequence log-probs of each pair's chosen and rejected completions; pairs seen before come from the cache.</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("PairLogProbs")]
    Task<ImmutableArray<PairLogProbs>> PairLogProbs(ImmutableArray<PreferencePairItem> pairs);

    [Alias("GetPlacement")]
    Task<GrainPlacement> GetPlacement();

    [Alias("Release")]
    Task Release();
}
