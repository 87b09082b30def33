using System.Diagnostics;
using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Experiments;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Tests.Grpo;

namespace RlhfActors.Tests.Grains;

/// <summary>What the in-process recovery tests of every stage share: an uninterrupted baseline, a run paused
/// mid-stage (so a loss lands there however fast this machine runs the steps), and its resume to the end.</summary>
internal static class RecoveryRuns
{
    /// <summary>Starts the run and pauses it once past <paramref name="step"/> (a pause lands between units of work),
    /// checking it is still short of <paramref name="end"/>.</summary>
    public static async Task<IExperimentGrain> PausedPastAsync(IClusterClient client, ExperimentConfig config, int step, int end)
    {
        var grain = client.GetGrain<IExperimentGrain>(config.Name);
        await grain.Start(config);
        var clock = Stopwatch.StartNew();
        while ((await grain.GetStatus()).Step < step)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(90), $"step {step} not reached in 90 s");
            await Task.Delay(5);
        }
        var paused = await grain.Pause();
        Assert.True(paused.Step < end, $"the run reached step {paused.Step} before it could be paused mid-stage");
        return grain;
    }

    /// <summary>Resumes the paused run (its workers lost meanwhile) and checks that it completed by itself, with exactly
    /// <paramref name="steps"/> steps, after one recovery.</summary>
    public static async Task<ExperimentStatus> ResumeToEndAsync(IClusterClient client, IExperimentGrain grain, ExperimentConfig config, int steps)
    {
        await grain.Resume();
        var status = await GrpoRuns.RunAsync(client, config, alreadyStarted: true);
        Assert.True(status.State == ExperimentState.Completed, $"{status.State} ({status.Phase}): {status.Error}");
        Assert.Equal(steps, status.Step);
        Assert.Equal(1, status.Resumes);
        return status;
    }

    /// <summary>Runs <paramref name="config"/> uninterrupted under another name and folder (the baseline), then
    /// <paramref name="interrupted"/> with the baseline's config and final status; deletes both folders.</summary>
    public static async Task WithBaselineAsync(IClusterClient client, ExperimentConfig config, Func<ExperimentConfig, ExperimentStatus, Task> interrupted)
    {
        var baseline = config with { Name = config.Name + "-b", OutputDir = config.OutputDir + "-b" };
        try
        {
            var expected = await GrpoRuns.RunAsync(client, baseline);
            Assert.True(expected.State == ExperimentState.Completed, $"baseline {expected.State}: {expected.Error}");
            await interrupted(baseline, expected);
        }
        finally
        {
            foreach (var folder in new[] { config.OutputDir, baseline.OutputDir }.Where(Directory.Exists)) Directory.Delete(folder, recursive: true);
        }
    }
}
