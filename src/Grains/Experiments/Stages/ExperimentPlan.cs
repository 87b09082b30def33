using RlhfActors.Abstractions.Config;

namespace RlhfActors.Grains.Experiments.Stages;

/// <summary>The stages an experiment runs, in order: every plan starts with SFT (the whole run, or the warm-up of
/// the later stages).</summary>
public static class ExperimentPlan
{
    public static IReadOnlyList<ExperimentStage> For(ExperimentConfig config, RunContext run) => config.Algorithm switch
    {
        ExperimentConfig.GrpoAlgorithm => [new SftStage(run), new GrpoStage(run)],
        ExperimentConfig.PpoAlgorithm => [new SftStage(run), new RewardModelStage(run), new PpoStage(run)],
        ExperimentConfig.DpoAlgorithm => [new SftStage(run), new DpoStage(run)],
        ExperimentConfig.RlaifAlgorithm when config.TrainsRewardModel => [new SftStage(run), new RewardModelStage(run), new RlaifStage(run)],
        ExperimentConfig.RlaifAlgorithm => [new SftStage(run), new RlaifStage(run)],
        _ => [new SftStage(run)],
    };

    /// <summary>Null when every stage of <paramref name="plan"/> can continue <paramref name="config"/>'s run from a
    /// checkpoint; otherwise the first reason why not.</summary>
    public static string? CannotResume(IReadOnlyList<ExperimentStage> plan, ExperimentConfig config) =>
        plan.Select(stage => stage.CannotResume(config)).FirstOrDefault(why => why is not null);

    /// <summary>Rollout samplers the run's online stage uses (evaluation uses the first).</summary>
    public static int SamplerCount(ExperimentConfig config) => config.Algorithm switch
    {
        ExperimentConfig.GrpoAlgorithm => config.Grpo.Samplers,
        ExperimentConfig.PpoAlgorithm => config.Ppo.Samplers,
        ExperimentConfig.RlaifAlgorithm => config.Rlaif.Samplers,
        _ => 1,
    };
}
