using static RlhfActors.Tests.IO.CheckpointDigest;
using System.Collections.Immutable;
using System.Globalization;
using System.Text.Json;
using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Experiments;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Tests.Rewards;

namespace RlhfActors.Tests.Grpo;

/// <summary>A GRPO run whose HTTP reward server goes down pauses with the reason instead of failing, and a resume
/// retries the step it stopped before: the run ends with the weights of a run that never saw the outage.</summary>
[Collection(SplitClusterCollection.Name)]
public sealed class RewardOutageTests(SplitClusterFixture fixture)
{
    /// <summary>1 for a completion equal to its reference answer, else 0: deterministic, so two runs score alike.</summary>
    static LoopbackRewardServer.Reply Score(string body)
    {
        using var json = JsonDocument.Parse(body);
        var completions = json.RootElement.GetProperty("completions").EnumerateArray().Select(c => c.GetString() ?? "").ToArray();
        var references = json.RootElement.GetProperty("references").EnumerateArray().Select(r => r.ValueKind == JsonValueKind.Null ? null : r.GetString()).ToArray();
        return LoopbackRewardServer.Reply.Scores([.. completions.Zip(references, (c, r) => c.Trim() == r ? 1.0 : 0.0)]);
    }

    static ExperimentConfig Config(string name, Uri server) => TinyGrpo.Create(name, grpoSteps: 4) with
    {
        Grpo = TinyGrpo.Create(name).Grpo with
        {
            Steps = 4,
            Rewards =
            [
                new RewardTerm
                {
                    Name = "http",
                    Args = ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, new Dictionary<string, string>
                    {
                        ["url"] = server.ToString(), ["retries"] = "1", ["backoff_s"] = "0.01", ["timeout_s"] = "10",
                    }),
                },
                new RewardTerm { Name = "format", Weight = 0.5 },
            ],
        },
    };

    [Fact]
    public async Task An_outage_pauses_the_run_and_a_resume_retries_the_step_with_nothing_lost()
    {
        using var healthy = new LoopbackRewardServer((_, body, _) => Task.FromResult(Score(body)));
        // Down for both attempts (retries: 1) of the third scoring call, up again afterwards.
        using var flaky = new LoopbackRewardServer((hit, body, _) =>
            Task.FromResult(hit is 3 or 4 ? new LoopbackRewardServer.Reply(503, "maintenance") : Score(body)));
        var baseline = Config($"outage-b-{Guid.NewGuid():N}"[..20], healthy.Url);
        var config = Config($"outage-{Guid.NewGuid():N}"[..20], flaky.Url);
        try
        {
            var expected = await GrpoRuns.RunAsync(fixture.Client, baseline);
            Assert.True(expected.State == ExperimentState.Completed, expected.Error);

            var paused = await GrpoRuns.RunAsync(fixture.Client, config, until: s => s.State is ExperimentState.Paused);
            Assert.Equal(ExperimentState.Paused, paused.State);
            Assert.Contains("reward unavailable before grpo step", paused.Error);
            Assert.Contains("503", paused.Error);
            Assert.Contains("reward unavailable", paused.Phase);
            var pausedAt = paused.Step;
            await Task.Delay(300);
            Assert.Equal(pausedAt, (await fixture.Client.GetGrain<IExperimentGrain>(config.Name).GetStatus()).Step);

            await fixture.Client.GetGrain<IExperimentGrain>(config.Name).Resume();
            var done = await GrpoRuns.RunAsync(fixture.Client, config, alreadyStarted: true);

            Assert.True(done.State == ExperimentState.Completed, done.Error);
            Assert.Null(done.Error);
            Assert.Equal(expected.Step, done.Step);
            Assert.Equal(4, done.Grpo!.Steps);
            Assert.Equal(WeightsSha256(expected.CheckpointPath!), WeightsSha256(done.CheckpointPath!));
        }
        finally
        {
            foreach (var dir in new[] { baseline.OutputDir, config.OutputDir }.Where(Directory.Exists)) Directory.Delete(dir, recursive: true);
        }
    }

}
