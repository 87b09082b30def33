using static RlhfActors.Tests.IO.CheckpointDigest;
using System.Diagnostics;
using Orleans.Core.Internal;
using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Experiments;
using RlhfActors.Abstractions.Grains;

namespace RlhfActors.Tests.Grains;

/// <summary>
/// An SFT run that loses its learner, or its controller, mid-way continues by itself from the newest checkpoint and
/// ends with the asked-for steps and the final weights of an uninterrupted run (bit for bit). The loss is made by
/// deactivating the grain, which frees its model as a dead silo would; the real-process form (kill -9 of a silo) is
/// in Cluster/ChaosTests.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class RecoveryTests(ClusterFixture fixture)
{
    static ExperimentConfig Run(string what) => TinyExperiment.Create($"{what}-{Guid.NewGuid():N}"[..24]) with
    {
        Sft = TinyExperiment.Create("x").Sft with { Steps = 600 },
        Eval = new EvalSection { Every = 200, MaxNewTokens = 5 },
        Checkpoint = new CheckpointSection { Every = 100 },
    };

    [Fact]
    public async Task A_run_whose_learner_is_lost_resumes_from_its_checkpoint_and_ends_as_if_uninterrupted()
    {
        var (status, lostAt) = await LoseMidwayAsync("lost-learner",
            name => fixture.Client.GetGrain<ILearnerGrain>(name).Cast<IGrainManagementExtension>().DeactivateOnIdle());

        // From a checkpoint (a checkpoint.every boundary) at or before the loss: the steps after it were redone.
        Assert.Equal(0, status.ResumedFromStep!.Value % 100);
        Assert.InRange(status.ResumedFromStep.Value, 100, lostAt + 100);
    }

    [Fact]
    public async Task A_run_whose_controller_is_lost_resumes_when_it_comes_back()
    {
        // The next status call re-activates the controller (in a cluster: the watchdog or the keep-alive reminder).
        var (status, lostAt) = await LoseMidwayAsync("lost-controller",
            name => fixture.Client.GetGrain<IExperimentGrain>(name).Cast<IGrainManagementExtension>().DeactivateOnIdle());

        // The learner was not lost, so the run went on from the step the record held (a chunk boundary of 10 steps),
        // not from an older checkpoint: nothing was redone.
        Assert.Equal(0, status.ResumedFromStep!.Value % 10);
        Assert.InRange(status.ResumedFromStep.Value, lostAt, 599);
    }

    /// <summary>Runs the config uninterrupted (the baseline), then again with <paramref name="lose"/> applied past
    /// step 150; checks the second run ended like the first and returns its status and the step the loss came at.</summary>
    async Task<(ExperimentStatus Status, int LostAt)> LoseMidwayAsync(string what, Func<string, ValueTask> lose)
    {
        var config = Run(what);
        var baseline = config with { Name = config.Name + "-b", OutputDir = config.OutputDir + "-b" };
        try
        {
            var expected = await RunToEndAsync(baseline);

            var grain = fixture.Client.GetGrain<IExperimentGrain>(config.Name);
            await grain.Start(config);
            var lostAt = await WaitForStepAsync(grain, 150);
            await lose(config.Name);
            var status = await WaitUntilFinishedAsync(grain);

            AssertResumedLikeBaseline(config, status, expected);
            return (status, lostAt);
        }
        finally
        {
            Delete(config.OutputDir, baseline.OutputDir);
        }
    }

    static void AssertResumedLikeBaseline(ExperimentConfig config, ExperimentStatus status, string expectedSha256)
    {
        Assert.True(status.State == ExperimentState.Completed, $"{status.State} ({status.Phase}): {status.Error}");
        Assert.Equal(600, status.Step);
        Assert.Equal(1, status.Resumes);
        Assert.NotNull(status.ResumedFromStep);
        // Each evaluation step once: before training, every 200 steps.
        Assert.Equal([0, 200, 400, 600], status.Evals.Select(e => e.Step));
        Assert.Equal(expectedSha256, WeightsSha256(Path.Combine(config.OutputDir, "checkpoint-600")));
    }

    async Task<string> RunToEndAsync(ExperimentConfig config)
    {
        var grain = fixture.Client.GetGrain<IExperimentGrain>(config.Name);
        await grain.Start(config);
        var status = await WaitUntilFinishedAsync(grain);
        Assert.True(status.State == ExperimentState.Completed, $"baseline {status.State}: {status.Error}");
        Assert.Equal(0, status.Resumes);
        return WeightsSha256(Path.Combine(config.OutputDir, "checkpoint-600"));
    }

    /// <summary>Waits until the run is past <paramref name="step"/> (so a checkpoint exists) and still short of its end.</summary>
    static async Task<int> WaitForStepAsync(IExperimentGrain grain, int step)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var status = await grain.GetStatus();
            if (status.Step >= step)
            {
                Assert.True(status.Step < 500, $"the run reached step {status.Step} before the loss could be made mid-way");
                return status.Step;
            }
            Assert.True(status.State == ExperimentState.Running, $"{status.State}: {status.Error}");
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(120), $"step {status.Step} after 120 s");
            await Task.Delay(10);
        }
    }

    static async Task<ExperimentStatus> WaitUntilFinishedAsync(IExperimentGrain grain)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var status = await grain.GetStatus();
            if (status.IsFinished) return status;
            if (clock.Elapsed > TimeSpan.FromSeconds(180)) throw new TimeoutException($"still {status.State} ({status.Phase}) after 180 s");
            await Task.Delay(50);
        }
    }

    static void Delete(params string[] folders)
    {
        foreach (var folder in folders.Where(Directory.Exists)) Directory.Delete(folder, recursive: true);
    }
}
