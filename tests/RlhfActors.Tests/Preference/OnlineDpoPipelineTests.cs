using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Experiments;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Grains.Specs;
using RlhfActors.Tests.Grpo;

namespace RlhfActors.Tests.Preference;

/// <summary>Online DPO through the grains on the split cluster (every message crosses silos): SFT warm-up → each step
/// two samples per prompt from the rollout samplers → the verifier judge → ReferenceGrain → one learner update.</summary>
[Collection(SplitClusterCollection.Name)]
public sealed class OnlineDpoPipelineTests(SplitClusterFixture fixture)
{
    static string NewName(string what) => $"{what}-{Guid.NewGuid():N}"[..24];

    /// <summary>1-digit addition, the tiny decoder, <see cref="TinyGrpo"/>'s warm-up, then online DPO steps judged by
    /// the verifier; missing_eos_penalty splits some of the wrong-against-wrong ties, so a step has pairs to train.</summary>
    internal static ExperimentConfig Tiny(string name, int steps = 2) => TinyGrpo.Create(name) with
    {
        Algorithm = Algorithm.OnlineDpo,
        Grpo = new GrpoSection(),
        OnlineDpo = new OnlineDpoSection
        {
            Steps = steps, PromptsPerStep = 8, MaxNewTokens = 3, Temperature = 1.0, MissingEosPenalty = 0.5, Samplers = 2,
        },
        Dpo = new DpoSection { LearningRate = 1e-3, Beta = 0.1 },
    };

    /// <summary>The issue's equivalence test: the warm-up and two online DPO steps through controller → samplers →
    /// judge → reference → learner → policy registry give bit-identical weights to <see cref="InProcessOnlineDpo"/>
    /// running the same math in this process, with the same pairs.</summary>
    [Fact]
    public async Task Online_dpo_through_the_grains_equals_the_in_process_loop()
    {
        var config = Tiny(NewName("odpo-equal"));
        try
        {
            var status = await GrpoRuns.RunAsync(fixture.Client, config);
            Assert.True(status.State == ExperimentState.Completed, $"run ended {status.State} in phase '{status.Phase}': {status.Error}");
            var result = (await fixture.Client.GetGrain<IExperimentGrain>(config.Name).GetResult())!;
            Assert.Equal(["sft", "online_dpo"], result.Stages.Select(s => s.Name));
            var stage = result.Stages[1];
            Assert.Equal(2, stage.Metrics["steps"]);
            Assert.True(stage.Metrics["pairs"] > 0, "no step had a pair: the test does not reach the update");
            // The verifier judge agrees with the verifier on every pair whose verdicts differ (NaN: there was none).
            Assert.True(stage.Metrics["judge/agreement"] is 1.0 or double.NaN, $"judge/agreement {stage.Metrics["judge/agreement"]}");
            Assert.Empty(result.Rounds);   // online DPO reports steps, not RLAIF rounds

            using var inProcess = InProcessOnlineDpo.Create(config);
            var steps = new[] { inProcess.Step(), inProcess.Step() };
            Assert.Equal(stage.Metrics["pairs"], steps.Sum(s => s.Pairs.Count));
            Assert.Equal(stage.Steps, steps.Count(s => s.Update is not null));

            var index = await fixture.Client.GetGrain<IPolicyGrain>(config.Name).GetIndex();
            GrpoRuns.AssertPublished(inProcess.ExportWeights(), index[^1], "after two online DPO steps");
            Assert.Contains(inProcess.WarmWeights.Zip(inProcess.ExportWeights()), pair => !pair.First.Data.AsSpan().SequenceEqual(pair.Second.Data));
        }
        finally
        {
            if (Directory.Exists(config.OutputDir)) Directory.Delete(config.OutputDir, recursive: true);
        }
    }
}
