using static RlhfActors.Tests.IO.CheckpointDigest;
using Orleans.Core.Internal;
using RlhfActors.Abstractions;
using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Tests.Grains;

namespace RlhfActors.Tests.Preference;

/// <summary>
/// A PPO run (SFT warm-up, reward model, PPO with a critic, a reference and two samplers) that loses every worker
/// mid-stage continues by itself from the newest checkpoint — the policy and its optimizer from the learner's, the
/// critic from its own <c>critic-&lt;step&gt;</c>, the reward model from output_dir/reward_model, the reference from
/// the stage-boundary checkpoint — and ends with the asked-for steps and the final weights of an uninterrupted run,
/// bit for bit. Losing only the controller continues from the record: nothing is redone.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class PpoRecoveryTests(ClusterFixture fixture)
{
    const int SftSteps = 20, PpoSteps = 8;

    static ExperimentConfig Run(string what)
    {
        var tiny = TinyPreference.Ppo($"{what}-{Guid.NewGuid():N}"[..24]);
        return tiny with { Ppo = tiny.Ppo with { Steps = PpoSteps }, Checkpoint = new CheckpointSection { Every = 2, Keep = 1 } };
    }

    [Fact]
    public async Task A_ppo_run_that_loses_all_its_workers_ends_bit_identical_to_an_uninterrupted_one()
    {
        var config = Run("ppo-lost");
        await RecoveryRuns.WithBaselineAsync(fixture.Client, config, async (baseline, expected) =>
        {
            // Past PPO step 5: the newest checkpoint is step 4's, so step 5 is redone.
            var grain = await RecoveryRuns.PausedPastAsync(fixture.Client, config, SftSteps + 5, SftSteps + PpoSteps);
            var pausedAt = (await grain.GetStatus()).Step;
            var lost = new List<IGrainManagementExtension>
            {
                fixture.Client.GetGrain<ILearnerGrain>(config.Name).Cast<IGrainManagementExtension>(),
                fixture.Client.GetGrain<ICriticGrain>(config.Name).Cast<IGrainManagementExtension>(),
                fixture.Client.GetGrain<IReferenceGrain>(config.Name).Cast<IGrainManagementExtension>(),
                fixture.Client.GetGrain<IPolicyGrain>(config.Name).Cast<IGrainManagementExtension>(),
                fixture.Client.GetGrain<IRewardModelGrain>(config.Name).Cast<IGrainManagementExtension>(),
            };
            lost.AddRange(Enumerable.Range(0, config.Ppo.Samplers)
                .Select(i => fixture.Client.GetGrain<IRolloutSamplerGrain>(GrainKeys.Sampler(config.Name, i)).Cast<IGrainManagementExtension>()));
            foreach (var worker in lost) await worker.DeactivateOnIdle();
            var status = await RecoveryRuns.ResumeToEndAsync(fixture.Client, grain, config, SftSteps + PpoSteps);

            // From the newest checkpoint (checkpoint.every 2), before the step the run was paused at.
            Assert.Equal(0, (status.ResumedFromStep!.Value - SftSteps) % 2);
            Assert.InRange(status.ResumedFromStep.Value, pausedAt - 2, pausedAt);
            Assert.Equal(["sft", "reward_model", "ppo"], status.Stages.Select(s => s.Name));
            Assert.Equal(expected.Stages[2].Metrics, status.Stages[2].Metrics);
            var final = $"checkpoint-{SftSteps + PpoSteps}";
            Assert.Equal(WeightsSha256(Path.Combine(baseline.OutputDir, final)), WeightsSha256(Path.Combine(config.OutputDir, final)));
            // checkpoint.keep 1: the newest checkpoint and its critic, and the reference's stage-boundary checkpoint.
            Assert.False(Directory.Exists(Path.Combine(config.OutputDir, $"critic-{SftSteps + 2}")), "a pruned checkpoint's critic was left");
        });
    }

    [Fact]
    public async Task A_ppo_run_that_loses_its_controller_goes_on_from_the_record_bit_identical()
    {
        var config = Run("ppo-ctl-lost");
        await RecoveryRuns.WithBaselineAsync(fixture.Client, config, async (baseline, expected) =>
        {
            var grain = await RecoveryRuns.PausedPastAsync(fixture.Client, config, SftSteps + 5, SftSteps + PpoSteps);
            var pausedAt = (await grain.GetStatus()).Step;
            await fixture.Client.GetGrain<IExperimentGrain>(config.Name).Cast<IGrainManagementExtension>().DeactivateOnIdle();
            var status = await RecoveryRuns.ResumeToEndAsync(fixture.Client, grain, config, SftSteps + PpoSteps);

            Assert.Equal(pausedAt, status.ResumedFromStep);
            var final = $"checkpoint-{SftSteps + PpoSteps}";
            Assert.Equal(WeightsSha256(Path.Combine(baseline.OutputDir, final)), WeightsSha256(Path.Combine(config.OutputDir, final)));
        });
    }
}
