using static RlhfActors.Tests.IO.CheckpointDigest;
using Orleans.Core.Internal;
using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Tests.Grains;

namespace RlhfActors.Tests.Preference;

/// <summary>
/// A DPO run that loses its learner, its reference and the registry's weights mid-stage continues by itself from the
/// newest checkpoint (the DPO optimizer and the pair order's position with it; the reference from the stage-boundary
/// checkpoint) and ends with the asked-for steps, each evaluation once, and the final weights of an uninterrupted
/// run, bit for bit.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class DpoRecoveryTests(ClusterFixture fixture)
{
    const int SftSteps = 20, DpoSteps = 16;

    [Fact]
    public async Task A_dpo_run_that_loses_learner_reference_and_registry_ends_bit_identical_to_an_uninterrupted_one()
    {
        var tiny = TinyPreference.Dpo($"dpo-lost-{Guid.NewGuid():N}"[..24]);
        var config = tiny with
        {
            Dpo = tiny.Dpo with { Steps = DpoSteps },
            Eval = tiny.Eval with { Every = 4 },
            Checkpoint = new CheckpointSection { Every = 8, Keep = 1 },
        };
        await RecoveryRuns.WithBaselineAsync(fixture.Client, config, async (baseline, expected) =>
        {
            // Past DPO step 10: the newest checkpoint is step 8's, so the steps after it are redone.
            var grain = await RecoveryRuns.PausedPastAsync(fixture.Client, config, SftSteps + 10, SftSteps + DpoSteps);
            foreach (var lost in new[]
            {
                fixture.Client.GetGrain<ILearnerGrain>(config.Name).Cast<IGrainManagementExtension>(),
                fixture.Client.GetGrain<IReferenceGrain>(config.Name).Cast<IGrainManagementExtension>(),
                fixture.Client.GetGrain<IPolicyGrain>(config.Name).Cast<IGrainManagementExtension>(),
            }) await lost.DeactivateOnIdle();
            var status = await RecoveryRuns.ResumeToEndAsync(fixture.Client, grain, config, SftSteps + DpoSteps);

            Assert.Equal(SftSteps + 8, status.ResumedFromStep);
            // Each evaluation once: before training, the warm-up's end, every 4 DPO steps.
            Assert.Equal(expected.Evals.Select(e => e.Step), status.Evals.Select(e => e.Step));
            Assert.Equal(["sft", "dpo"], status.Stages.Select(s => s.Name));
            Assert.Equal(expected.Stages[1].Metrics["eval/preference_accuracy_before"], status.Stages[1].Metrics["eval/preference_accuracy_before"]);
            var final = $"checkpoint-{SftSteps + DpoSteps}";
            Assert.Equal(WeightsSha256(Path.Combine(baseline.OutputDir, final)), WeightsSha256(Path.Combine(config.OutputDir, final)));
        });
    }
}
