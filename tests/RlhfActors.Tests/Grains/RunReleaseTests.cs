using System.Diagnostics;
using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Experiments;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Tests.Grpo;

namespace RlhfActors.Tests.Grains;

/// <summary>However a run ends (completed, failed, stopped) its learner and policy registry hold no weights after it,
/// and a resume (<c>--resume</c> after completion, <c>rlhf resume</c> after a failure) still works: it republishes
/// from the checkpoint, under version numbers that never repeat.</summary>
[Collection(ClusterCollection.Name)]
public sealed class RunReleaseTests(ClusterFixture fixture)
{
    static ExperimentConfig Tiny(string what, int steps)
    {
        var tiny = TinyExperiment.Create($"{what}-{Guid.NewGuid():N}"[..24]);
        return tiny with { Sft = tiny.Sft with { Steps = steps, WarmupSteps = 1 }, Eval = tiny.Eval with { Every = 0 } };
    }

    [Fact]
    public async Task A_completed_run_holds_no_weights_and_continues_its_numbering_when_resumed()
    {
        var config = Tiny("released-done", steps: 5);
        try
        {
            var first = await GrpoRuns.RunAsync(fixture.Client, config);
            Assert.True(first.State == ExperimentState.Completed, $"{first.State}: {first.Error}");
            await AssertReleasedAsync(config.Name, first);

            // --resume of a completed run: from its final checkpoint, nothing left to train; the final evaluation
            // needs the weights again, and the learner republishes them from the checkpoint.
            await fixture.Client.GetGrain<IExperimentGrain>(config.Name).StartFromCheckpoint(config);
            var resumed = await GrpoRuns.RunAsync(fixture.Client, config, alreadyStarted: true);
            Assert.True(resumed.State == ExperimentState.Completed, $"resumed: {resumed.State}: {resumed.Error}");
            Assert.Equal(5, resumed.ResumedFromStep);
            Assert.True(resumed.PolicyVersion > first.PolicyVersion, $"version {resumed.PolicyVersion} after {first.PolicyVersion}");
            await AssertReleasedAsync(config.Name, resumed);
        }
        finally
        {
            Delete(config.OutputDir);
        }
    }

    [Fact]
    public async Task A_failed_run_holds_no_weights_and_resumes_from_its_checkpoint()
    {
        var config = Tiny("released-failed", steps: 300) with { Checkpoint = new CheckpointSection { Every = 100 } };
        var grain = await RecoveryRuns.PausedPastAsync(fixture.Client, config, step: 100, end: 200);
        // A file where checkpoint-200 goes: its write fails, and with it the run (a worker was not lost).
        var blocker = Path.Combine(config.OutputDir, "checkpoint-200");
        try
        {
            await File.WriteAllTextAsync(blocker, "in the way");
            await grain.Resume();
            var failed = await GrpoRuns.RunAsync(fixture.Client, config, alreadyStarted: true);
            Assert.True(failed.State == ExperimentState.Failed, $"{failed.State} at step {failed.Step}: {failed.Error}");
            await AssertReleasedAsync(config.Name, failed);

            File.Delete(blocker);
            await grain.Resume();
            var resumed = await GrpoRuns.RunAsync(fixture.Client, config, alreadyStarted: true);
            Assert.True(resumed.State == ExperimentState.Completed, $"resumed: {resumed.State}: {resumed.Error}");
            Assert.Equal(100, resumed.ResumedFromStep);
            Assert.Equal(300, resumed.Step);
            Assert.True(resumed.PolicyVersion > failed.PolicyVersion, $"version {resumed.PolicyVersion} after {failed.PolicyVersion}");
            await AssertReleasedAsync(config.Name, resumed);
        }
        finally
        {
            Delete(config.OutputDir);
        }
    }

    [Fact]
    public async Task A_stopped_run_holds_no_weights()
    {
        var config = Tiny("released-stopped", steps: 5000);
        var grain = fixture.Client.GetGrain<IExperimentGrain>(config.Name);
        try
        {
            await grain.Start(config);
            var clock = Stopwatch.StartNew();
            while ((await grain.GetStatus()).Step == 0)
            {
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), "no step in 60 s");
                await Task.Delay(10);
            }
            var stopped = await grain.Stop("test");
            Assert.Equal(ExperimentState.Stopped, stopped.State);
            await AssertReleasedAsync(config.Name, stopped);
        }
        finally
        {
            Delete(config.OutputDir);
        }
    }

    /// <summary>The registry holds no weights but still indexes the version the run ended on (numbering goes on from
    /// it), and the learner holds no model (a released learner, or a fresh activation, answers −1).</summary>
    async Task AssertReleasedAsync(string experiment, ExperimentStatus ended)
    {
        var registry = fixture.Client.GetGrain<IPolicyGrain>(experiment);
        Assert.Equal(0, await registry.GetHeldBytes());
        var index = await registry.GetIndex();
        Assert.NotEmpty(index);
        Assert.Equal(ended.PolicyVersion, index[^1].Version);
        Assert.Equal(index.Length, index.Select(v => v.Version).Distinct().Count());
        Assert.Equal(-1, await fixture.Client.GetGrain<ILearnerGrain>(experiment).GetStepsDone());
    }

    static void Delete(string folder)
    {
        if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
    }
}
