using static RlhfActors.Tests.IO.CheckpointDigest;
using Orleans.Core.Internal;
using RlhfActors.Abstractions;
using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Tests.Grains;

namespace RlhfActors.Tests.Preference;

/// <summary>
/// An RLAIF run (SFT warm-up, a reward model trained as its judge, then rounds of judged online DPO) that loses every
/// worker between rounds — learner, reference, registry, reward model, judge, samplers — continues by itself from
/// the checkpoint of its last round (the judge read back from output_dir/reward_model) and ends with the asked-for
/// rounds, each round's figures as an uninterrupted run's, and its final weights, bit for bit.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class RlaifRecoveryTests(ClusterFixture fixture)
{
    const int SftSteps = 20, Rounds = 4, StepsPerRound = 2;

    [Fact]
    public async Task An_rlaif_run_that_loses_all_its_workers_between_rounds_ends_bit_identical_to_an_uninterrupted_one()
    {
        var tiny = TinyPreference.Rlaif($"rlaif-lost-{Guid.NewGuid():N}"[..24]);
        var config = tiny with { Rlaif = tiny.Rlaif with { Rounds = Rounds, StepsPerRound = StepsPerRound } };
        await RecoveryRuns.WithBaselineAsync(fixture.Client, config, async (baseline, expected) =>
        {
            var end = SftSteps + Rounds * StepsPerRound;
            var grain = await RecoveryRuns.PausedPastAsync(fixture.Client, config, SftSteps + 2 * StepsPerRound, end);
            var lost = new List<IGrainManagementExtension>
            {
                fixture.Client.GetGrain<ILearnerGrain>(config.Name).Cast<IGrainManagementExtension>(),
                fixture.Client.GetGrain<IReferenceGrain>(config.Name).Cast<IGrainManagementExtension>(),
                fixture.Client.GetGrain<IPolicyGrain>(config.Name).Cast<IGrainManagementExtension>(),
                fixture.Client.GetGrain<IRewardModelGrain>(config.Name).Cast<IGrainManagementExtension>(),
                fixture.Client.GetGrain<IJudgeGrain>(config.Name).Cast<IGrainManagementExtension>(),
            };
            lost.AddRange(Enumerable.Range(0, config.Rlaif.Samplers)
                .Select(i => fixture.Client.GetGrain<IRolloutSamplerGrain>(GrainKeys.Sampler(config.Name, i)).Cast<IGrainManagementExtension>()));
            foreach (var grainToLose in lost) await grainToLose.DeactivateOnIdle();
            var status = await RecoveryRuns.ResumeToEndAsync(fixture.Client, grain, config, end);

            Assert.Equal(Rounds, status.Rounds.Length);
            Assert.Equal(expected.Rounds.Select(r => (r.Round, r.Pairs, r.AccuracyAfter, r.Loss)), status.Rounds.Select(r => (r.Round, r.Pairs, r.AccuracyAfter, r.Loss)));
            Assert.Equal(["sft", "reward_model", "rlaif"], status.Stages.Select(s => s.Name));
            Assert.Equal(expected.Evals.Select(e => e.Step), status.Evals.Select(e => e.Step));
            var final = $"checkpoint-{end}";
            Assert.Equal(WeightsSha256(Path.Combine(baseline.OutputDir, final)), WeightsSha256(Path.Combine(config.OutputDir, final)));
        });
    }
}
