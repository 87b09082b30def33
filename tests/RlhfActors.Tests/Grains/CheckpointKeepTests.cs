using System.Diagnostics;
using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Experiments;
using RlhfActors.Abstractions.Grains;

namespace RlhfActors.Tests.Grains;

/// <summary>checkpoint.keep: the newest K checkpoints stay, older ones go once a newer one is written.</summary>
[Collection(ClusterCollection.Name)]
public sealed class CheckpointKeepTests(ClusterFixture fixture)
{
    [Fact]
    public async Task Only_the_newest_checkpoints_are_kept()
    {
        var config = TinyExperiment.Create($"keep-{Guid.NewGuid():N}"[..20]) with
        {
            Sft = TinyExperiment.Create("x").Sft with { Steps = 60 },
            Checkpoint = new CheckpointSection { Every = 10, Keep = 2 },
        };
        var grain = fixture.Client.GetGrain<IExperimentGrain>(config.Name);
        try
        {
            await grain.Start(config);
            var clock = Stopwatch.StartNew();
            ExperimentStatus status;
            while (!(status = await grain.GetStatus()).IsFinished)
            {
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"still {status.State} at step {status.Step}");
                await Task.Delay(50);
            }
            Assert.True(status.State == ExperimentState.Completed, status.Error);
            var left = Directory.EnumerateDirectories(config.OutputDir, "checkpoint-*").Select(p => Path.GetFileName(p)!).Order().ToArray();
            Assert.Equal(["checkpoint-50", "checkpoint-60"], left);
        }
        finally
        {
            if (Directory.Exists(config.OutputDir)) Directory.Delete(config.OutputDir, recursive: true);
        }
    }
}
