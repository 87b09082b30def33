using Microsoft.Extensions.Logging;
using RlhfActors.Grains.Experiments.Stages;

namespace RlhfActors.Grains.Experiments;

/// <summary>
/// What a run lets go of when it ends (completed, failed or stopped): every worker grain it used frees its weights
/// and tensors, so a silo that runs experiment after experiment does not grow with each. Explicit rather than left
/// to idle collection: the heavy roles are kept two hours idle (a paused run must find them), and a silo that runs a
/// short experiment every few minutes would otherwise hold many finished runs at once. Whatever a later request needs
/// stays: the record (status, result), the policy registry's index (the numbering continues), the checkpoints (a
/// resume rebuilds every worker from them, as after a lost silo).
/// </summary>
public sealed partial class ExperimentGrain
{
    /// <summary>Frees the learner, the policy registry's weights, every sampler, and (past SFT) the reward model,
    /// reference, critic and judge; a failure here must not hide the run's outcome.</summary>
    async Task ReleaseWorkersAsync()
    {
        try
        {
            var config = Record.Config;
            var samplers = Enumerable.Range(0, config is null ? 1 : ExperimentPlan.SamplerCount(config)).Select(i => Run.SamplerAt(i).Release());
            // Releasing a role that never activated just activates and frees an empty grain: cheap, and simpler than
            // tracking which roles this run used. An SFT run uses none of them.
            Task[] roles = config?.HasWarmUp == true ? [Run.Reward.Release(), Run.Reference.Release(), Run.Critic.Release(), Run.Judge.Release()] : [];
            // A distillation teacher is shared and keyed by its weights: only the stage knows which one it attached to.
            var teachers = _plan?.OfType<DistillStage>().Select(stage => stage.ReleaseTeacherAsync()) ?? [];
            await Task.WhenAll([Learner.Release(), Run.Policy.Release(), .. samplers, .. roles, .. teachers]);
        }
        catch (Exception e)
        {
            LogReleaseFailed(e, ExperimentId);
        }
        // The stages hold the run's data (GRPO, PPO and RLAIF prompt plans, DPO pairs) for as long as this activation
        // lives; the plan is rebuilt from the record if it is asked for again (a resume rebuilds it anyway).
        _plan = null;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Experiment {ExperimentId}: could not release every worker of its run")]
    private partial void LogReleaseFailed(Exception error, string experimentId);
}
