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

    static ExperimentConfig Run(string what, string mode = GrpoSection.Sync)
    {
        var config = TinyGrpo.Create($"{what}-{Guid.NewGuid():N}"[..24], GrpoSteps, samplers: 2, mode);
        return config with { Checkpoint = new CheckpointSection { Every = 4, Keep = 1 } };
    }

    [Fact]
    public async Task A_sync_grpo_run_that_loses_learner_reference_and_registry_ends_bit_identical_to_an_uninterrupted_one()
    {
        var config = Run("grpo-lost");
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
        var config = Run("grpo-async-lost", GrpoSection.Async);
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

    /// <summary>Starts the run and pauses it past GRPO step 10 (after the checkpoint of step 8; a pause lands between
    /// steps), so the loss comes mid-stage however fast this machine runs the steps.</summary>
    async Task<IExperimentGrain> PausedPastAsync(ExperimentConfig config)
    {
        var grain = fixture.Client.GetGrain<IExperimentGrain>(config.Name);
        await grain.Start(config);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while ((await grain.GetStatus()).Step < SftSteps + 10)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(90), "GRPO step 10 not reached in 90 s");
            await Task.Delay(5);
        }
        var paused = await grain.Pause();
        Assert.True(paused.Step < SftSteps + GrpoSteps, $"the run reached step {paused.Step} before it could be paused mid-stage");
        return grain;
    }

    /// <summary>Resumes the paused run (its workers lost meanwhile) and checks that it completed by itself, with exactly
    /// the asked-for steps, after one recovery.</summary>
    async Task<ExperimentStatus> ResumeToEndAsync(IExperimentGrain grain, ExperimentConfig config)
    {
        await grain.Resume();
        var status = await GrpoRuns.RunAsync(fixture.Client, config, alreadyStarted: true);
        Assert.True(status.State == ExperimentState.Completed, $"{status.State} ({status.Phase}): {status.Error}");
        Assert.Equal(SftSteps + GrpoSteps, status.Step);
        Assert.Equal(GrpoSteps, status.Grpo!.Steps);
        Assert.Equal(1, status.Resumes);
        return status;
    }

    /// <summary>Runs <paramref name="config"/> uninterrupted under another name and folder (the baseline), then
    /// <paramref name="interrupted"/> with the baseline's config and final status; deletes both folders.</summary>
    async Task WithBaselineAsync(ExperimentConfig config, Func<ExperimentConfig, ExperimentStatus, Task> interrupted)
    {
        var baseline = config with { Name = config.Name + "-b", OutputDir = config.OutputDir + "-b" };
        try
        {
            var expected = await GrpoRuns.RunAsync(fixture.Client, baseline);
            Assert.True(expected.State == ExperimentState.Completed, $"baseline {expected.State}: {expected.Error}");
            await interrupted(baseline, expected);
        }
        finally
        {
            Delete(config.OutputDir, baseline.OutputDir);
        }
    }

    static void Delete(params string[] folders)
    {
        foreach (var folder in folders.Where(Directory.Exists)) Directory.Delete(folder, recursive: true);
    }
}
