using static RlhfActors.Tests.IO.CheckpointDigest;
using Orleans.Core.Internal;
using RlhfActors.Abstractions;
using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Experiments;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Tests.Grains;

namespace RlhfActors.Tests.Grpo;

/// <summary>
/// A GRPO run that loses its workers mid-stage continues by itself from the newest checkpoint (its controller cursor
/// included). Sync: it ends with the asked-for steps and the final weights of an uninterrupted run, bit for bit.
/// Async: the stated guarantee (docs/architecture.md) — the exact step count and the same prompts in the same order,
/// each trained once. The losses are made by deactivating grains, which frees their state as a dead silo would; the
/// real-process form (kill -9 of a silo) is in Cluster/ChaosTests.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class GrpoRecoveryTests(ClusterFixture fixture)
{
    const int GrpoSteps = 16;
    const int SftSteps = 20; // TinyGrpo's warm-up

    static ExperimentConfig Run(string what, GrpoMode mode = GrpoMode.Sync)
    {
        var config = TinyGrpo.Create($"{what}-{Guid.NewGuid():N}"[..24], GrpoSteps, samplers: 2, mode);
        return config with { Checkpoint = new CheckpointSection { Every = 4, Keep = 1 } };
    }

    [Fact]
    public async Task A_sync_grpo_run_that_loses_learner_reference_and_registry_ends_bit_identical_to_an_uninterrupted_one()
    {
        // Traced too: the resumed run's traces must hold every step once, as the uninterrupted run's do.
        var config = Run("grpo-lost") with { Logging = new LoggingSection { TraceRollouts = 1 } };
        await WithBaselineAsync(config, async (baseline, expected) =>
        {
            var grain = await PausedPastAsync(config);
            // checkpoint.keep 1 kept the stage-boundary checkpoint beside the newest: the reference's weights are in it.
            Assert.True(Directory.Exists(Path.Combine(config.OutputDir, $"checkpoint-{SftSteps}")), "the reference's checkpoint was pruned");
            Assert.False(Directory.Exists(Path.Combine(config.OutputDir, $"checkpoint-{SftSteps + 4}")), "checkpoint.keep 1 kept an older periodic checkpoint");
            // As a dead silo would: the learner's model, the frozen reference and the registry's weights are gone.
            foreach (var lost in new[]
            {
                fixture.Client.GetGrain<ILearnerGrain>(config.Name).Cast<IGrainManagementExtension>(),
                fixture.Client.GetGrain<IReferenceGrain>(config.Name).Cast<IGrainManagementExtension>(),
                fixture.Client.GetGrain<IPolicyGrain>(config.Name).Cast<IGrainManagementExtension>(),
            }) await lost.DeactivateOnIdle();
            var status = await ResumeToEndAsync(grain, config);
            Assert.InRange(status.ResumedFromStep!.Value, SftSteps + 8, SftSteps + GrpoSteps - 1);
            Assert.Equal(expected.Grpo!.PromptsSha256, status.Grpo!.PromptsSha256);
            Assert.Equal(["sft", "grpo"], status.Stages.Select(s => s.Name));
            var final = $"checkpoint-{SftSteps + GrpoSteps}";
            // Bit for bit, although the reference had to be rebuilt from the stage-boundary checkpoint.
            Assert.Equal(WeightsSha256(Path.Combine(baseline.OutputDir, final)), WeightsSha256(Path.Combine(config.OutputDir, final)));
            GrpoTraces.AssertSameTraces(baseline, config, [.. Enumerable.Range(SftSteps + 1, GrpoSteps)]);
        });
    }

    [Fact]
    public async Task A_sync_grpo_run_that_loses_controller_registry_and_samplers_goes_on_from_the_learners_step_bit_identical()
    {
        var config = Run("grpo-ctl-lost");
        await WithBaselineAsync(config, async (baseline, expected) =>
        {
            var grain = await PausedPastAsync(config);
            var pausedAt = (await grain.GetStatus()).Step;
            // As the death of the control-plane silo would, with the samplers: the registry's weights are gone, so the
            // learner (kept) must publish its weights again for the rebuilt samplers.
            foreach (var lost in new[]
            {
                fixture.Client.GetGrain<IExperimentGrain>(config.Name).Cast<IGrainManagementExtension>(),
                fixture.Client.GetGrain<IPolicyGrain>(config.Name).Cast<IGrainManagementExtension>(),
                fixture.Client.GetGrain<IRolloutSamplerGrain>(GrainKeys.Sampler(config.Name, 0)).Cast<IGrainManagementExtension>(),
                fixture.Client.GetGrain<IRolloutSamplerGrain>(GrainKeys.Sampler(config.Name, 1)).Cast<IGrainManagementExtension>(),
            }) await lost.DeactivateOnIdle();
            var status = await ResumeToEndAsync(grain, config);
            // Nothing redone: the learner still held the step the record held.
            Assert.Equal(pausedAt, status.ResumedFromStep);
            Assert.Equal(expected.Grpo!.PromptsSha256, status.Grpo!.PromptsSha256);
            var final = $"checkpoint-{SftSteps + GrpoSteps}";
            Assert.Equal(WeightsSha256(Path.Combine(baseline.OutputDir, final)), WeightsSha256(Path.Combine(config.OutputDir, final)));
        });
    }

    [Fact]
    public async Task An_async_grpo_run_that_loses_its_learner_trains_every_prompt_once_in_order()
    {
        var config = Run("grpo-async-lost", GrpoMode.Async);
        await WithBaselineAsync(config, async (baseline, expected) =>
        {
            var grain = await PausedPastAsync(config);
            await fixture.Client.GetGrain<ILearnerGrain>(config.Name).Cast<IGrainManagementExtension>().DeactivateOnIdle();
            var status = await ResumeToEndAsync(grain, config);
            // The in-flight batch was regenerated, not dropped or trained twice: the same prompts in the same order.
            Assert.Equal(expected.Grpo!.PromptsSha256, status.Grpo!.PromptsSha256);
            Assert.Equal(0, status.Grpo!.DroppedRollouts);
        });
    }

    Task<IExperimentGrain> PausedPastAsync(ExperimentConfig config) =>
        RecoveryRuns.PausedPastAsync(fixture.Client, config, SftSteps + 10, SftSteps + GrpoSteps);

    async Task<ExperimentStatus> ResumeToEndAsync(IExperimentGrain grain, ExperimentConfig config)
    {
        var status = await RecoveryRuns.ResumeToEndAsync(fixture.Client, grain, config, SftSteps + GrpoSteps);
        Assert.Equal(GrpoSteps, status.Grpo!.Steps);
        return status;
    }

    Task WithBaselineAsync(ExperimentConfig config, Func<ExperimentConfig, ExperimentStatus, Task> interrupted) =>
        RecoveryRuns.WithBaselineAsync(fixture.Client, config, interrupted);
}
