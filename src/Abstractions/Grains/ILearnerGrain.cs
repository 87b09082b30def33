using System.Collections.Immutable;
using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Learner;
using RlhfActors.Abstractions.Messaging;
using RlhfActors.Abstractions.Placement;
using RlhfActors.Abstractions.Policy;
using RlhfActors.Abstractions.Preference;
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
    /// <summary><see cref="Initialize"/>, then restore weights, optimizer moments and data cursor from a verified SFT
    /// checkpoint, so the next step is exactly the one after it. Throws <see cref="System.IO.InvalidDataException"/>
    /// for a checkpoint that fails verification or belongs to another seed.</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("ResumeFrom")]
    Task<LearnerInfo> ResumeFrom(ExperimentConfig config, string checkpointDirectory);

    /// <summary>Steps the held model has taken; −1 when it holds none (never initialised, released, or re-activated
    /// after its silo was lost): how the controller tells a lost learner from a failed step.</summary>
    [Alias("GetStepsDone")]
    Task<int> GetStepsDone();

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

    /// <summary>Ends the SFT warm-up and starts the DPO-family stage (config's dpo section) on the current weights,
    /// published as the stage's first version (the reference freezes it).</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("StartDpo")]
    Task<PolicyVersionInfo> StartDpo();

    /// <summary>One DPO-family update; does not publish (DPO needs no sampler between steps): the controller publishes
    /// when it evaluates or starts a round.</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("DpoStep")]
    Task<DpoStepResult> DpoStep(DpoStepRequest request);

    /// <summary>Held-out preference accuracy of the policy's implicit reward β·(log π − log π_ref).</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("EvaluatePreferences")]
    Task<PreferenceEvalResult> EvaluatePreferences(PreferenceEvalRequest request);

    /// <summary>Ends the SFT warm-up and starts PPO (config's ppo section) on the current weights, published as the
    /// stage's first version.</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("StartPpo")]
    Task<PolicyVersionInfo> StartPpo();

    /// <summary>One PPO update (epochs × mini-batches); publishes the new version before returning.</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("PpoStep")]
    Task<PpoStepResult> PpoStep(PpoStepRequest request);

    /// <summary>Ends the SFT warm-up and starts distillation (config's distill section) on the current weights,
    /// published as the stage's first version.</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("StartDistill")]
    Task<PolicyVersionInfo> StartDistill();

    /// <summary>One distillation update against the teacher's answer; publishes the new version before returning.</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("DistillStep")]
    Task<DistillStepResult> DistillStep(DistillStepRequest request);

    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("SaveCheckpoint")]
    Task<CheckpointResult> SaveCheckpoint(CheckpointRequest request);

    /// <summary>The silo and device this activation runs on (activates the grain; builds no model).</summary>
    [Alias("GetPlacement")]
    Task<GrainPlacement> GetPlacement();

    /// <summary>Frees the model and lets the activation go.</summary>
    [Alias("Release")]
    Task Release();
}
