using System.Collections.Immutable;
using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Learner;
using RlhfActors.Abstractions.Messaging;
using RlhfActors.Abstractions.Placement;
using RlhfActors.Abstractions.Policy;
using RlhfActors.Abstractions.Rollouts;

namespace RlhfActors.Abstractions.Grains;

/// <summary>Owns an experiment's trainable policy, optimizer and data order (key: experiment id).</summary>
[Alias("rlhf.ILearnerGrain")]
public interface ILearnerGrain : IGrainWithStringKey
{
    /// <summary>Builds data and model; replaces whatever the grain held before.</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("Initialize")]
    Task<LearnerInfo> Initialize(ExperimentConfig config);

    /// <summary>Runs <paramref name="steps"/> optimizer steps; one metrics record per step.</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("TrainSteps")]
    Task<ImmutableArray<TrainStepMetrics>> TrainSteps(int steps);

    /// <summary>Exports the current weights as the next policy version and publishes them to the experiment's
    /// <see cref="IPolicyGrain"/>.</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("PublishPolicy")]
    Task<PolicyVersionInfo> PublishPolicy();

    /// <summary>Ends the SFT warm-up and starts GRPO on the current weights (config's grpo section): publishes them
    /// as the stage's first version, which rollouts and the reference start from.</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("StartGrpo")]
    Task<PolicyVersionInfo> StartGrpo();

    /// <summary>One GRPO update; publishes the new version before returning (unless the batch was dropped as stale).</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("GrpoStep")]
    Task<GrpoStepResult> GrpoStep(GrpoStepRequest request);

    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("SaveCheckpoint")]
    Task<CheckpointResult> SaveCheckpoint(CheckpointRequest request);

    /// <summary>The silo and device this activation runs on (activates the grain; builds no model).</summary>
    [Alias("GetPlacement")]
    Task<GrainPlacement> GetPlacement();

    /// <summary>Frees the model and lets the activation go.</summary>
    [Alias("Release")]
    Task Release();
}
