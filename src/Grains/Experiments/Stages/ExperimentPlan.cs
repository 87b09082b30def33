using RlhfActors.Abstractions.Config;

namespace RlhfActors.Grains.Experiments.Stages;

/// <summary>The stages an experiment runs, in order: every plan starts with SFT (the whole run, or the warm-up of
/// the later stages).</summary>
public static class ExperimentPlan
{
    public static IReadOnlyList<ExperimentStage> For(ExperimentConfig config, RunContext run) => config.Algorithm switch
    {
        Algorithm.Grpo => [new SftStage(run), new GrpoStage(run)],
        Algorithm.Ppo => [new SftStage(run), new RewardModelStage(run), new PpoStage(run)],
        Algorithm.Dpo => [new SftStage(run), new DpoStage(run)],
        Algorithm.Rlaif when config.TrainsRewardModel => [new SftStage(run), new RewardModelStage(run), new RlaifStage(run)],
        Algorithm.Rlaif => [new SftStage(run), new RlaifStage(run)],
        Algorithm.Distill => [new SftStage(run), new DistillStage(run)],
        // Online DPO is RLAIF's round loop at its smallest (two candidates, one update a round, a fixed reference).
        Algorithm.OnlineDpo when config.TrainsRewardModel => [new SftStage(run), new RewardModelStage(run), new RlaifStage(run, online: true)],
        Algorithm.OnlineDpo => [new SftStage(run), new RlaifStage(run, online: true)],
        _ => [new SftStage(run)],
    };

    /// <summary>Null when every stage of <paramref name="plan"/> can continue <paramref name="config"/>'s run from a
    /// checkpoint; otherwise the first reason why not.</summary>
    public static string? CannotResume(IReadOnlyList<ExperimentStage> plan, ExperimentConfig config) =>
        plan.Select(stage => stage.CannotResume(config)).FirstOrDefault(why => why is not null);

    /// <summary>Rollout samplers the run's online stage uses (evaluation uses the first).</summary>
    public static int SamplerCount(ExperimentConfig config) => config.Algorithm switch
    {
        Algorithm.Grpo => config.Grpo.Samplers,
        Algorithm.Ppo => config.Ppo.Samplers,
        Algorithm.Rlaif => config.Rlaif.Samplers,
        Algorithm.Distill => config.Distill.Samplers,
        Algorithm.OnlineDpo => config.OnlineDpo.Samplers,
        _ => 1,
    };
}
