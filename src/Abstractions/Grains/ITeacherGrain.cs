using System.Collections.Immutable;
using RlhfActors.Abstractions.Messaging;
using RlhfActors.Abstractions.Placement;
using RlhfActors.Abstractions.Rollouts;

namespace RlhfActors.Abstractions.Grains;

/// <summary>A frozen teacher model for distillation (key: <see cref="GrainKeys.Teacher"/>, the dtype and the digest of
/// its folder's files, so every experiment distilling from the same weights shares one activation and one copy of
/// them). Per-token log-probs, or top-k distributions, of completions others sampled.</summary>
[Alias("rlhf.ITeacherGrain")]
public interface ITeacherGrain : IGrainWithStringKey
{
    /// <summary>Attaches <paramref name="experimentId"/>; loads the folder on the first attach (idempotent after).</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("Attach")]
    Task<TeacherInfo> Attach(TeacherInit init, string experimentId);

    /// <summary>log π_T (at <paramref name="temperature"/>) of each completion token, per row.</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("LogProbs")]
    Task<ImmutableArray<float[]>> LogProbs(RolloutBatchMessage rollouts, double temperature);

    /// <summary>The <paramref name="k"/> most likely tokens and their log-probs at every completion position, per row
    /// (k = 0: the whole vocabulary, in vocabulary order).</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("TopK")]
    Task<ImmutableArray<TeacherTopKRow>> TopK(RolloutBatchMessage rollouts, int k, double temperature);

    [Alias("GetInfo")]
    Task<TeacherInfo> GetInfo();

    [Alias("GetPlacement")]
    Task<GrainPlacement> GetPlacement();

    /// <summary>Detaches <paramref name="experimentId"/>; the last one out frees the model and lets the activation go.</summary>
    [Alias("Release")]
    Task Release(string experimentId);
}
