using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Experiments;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Tests.Grpo;

namespace RlhfActors.Tests.Preference;

/// <summary>ORPO and KTO through the grains on the split cluster (controller, reference and learner messages cross
/// silos): the SFT warm-up, then a few updates of the DPO stage, give bit-identical weights to
/// <see cref="InProcessPreference"/> running the same math in this process, and the stage reports the variant's
/// own figures.</summary>
[Collection(SplitClusterCollection.Name)]
public sealed class OrpoKtoPipelineTests(SplitClusterFixture fixture)
{
    [Theory]
    [InlineData(DpoLossVariant.Orpo, new[] { "log_odds_ratio", "log_odds_chosen", "nll_loss", "rewards/accuracies" })]
    [InlineData(DpoLossVariant.Kto, new[] { "kl", "rewards/chosen", "rewards/rejected" })]
    public async Task The_stage_through_the_grains_equals_the_in_process_updates(DpoLossVariant lossType, string[] reported)
    {
        var tiny = TinyPreference.Dpo($"{lossType.Yaml()}-equal-{Guid.NewGuid():N}"[..24], lossType);
        var config = tiny with { Eval = new EvalSection { Every = 2, MaxNewTokens = 3 } };
        try
        {
            var status = await GrpoRuns.RunAsync(fixture.Client, config);
            Assert.True(status.State == ExperimentState.Completed, $"run ended {status.State}: {status.Error}");
            var result = (await fixture.Client.GetGrain<IExperimentGrain>(config.Name).GetResult())!;
            var stage = result.Stages[1];
            Assert.Equal(("dpo", config.Dpo.Steps), (stage.Name, stage.Steps));
            foreach (var metric in reported) Assert.True(stage.Metrics.ContainsKey(metric), $"the {lossType.Yaml()} stage lacks {metric}");
            Assert.InRange(stage.Metrics["eval/preference_accuracy"], 0, 1);

            var index = await fixture.Client.GetGrain<IPolicyGrain>(config.Name).GetIndex();
            var (warm, trained) = InProcessPreference.Run(config);
            GrpoRuns.AssertPublished(warm, index.Last(v => v.Step == config.Sft.Steps), "after the SFT warm-up");
            GrpoRuns.AssertPublished(trained, index.Last(v => v.Step == config.Sft.Steps + config.Dpo.Steps), $"after {config.Dpo.Steps} {lossType.Yaml()} steps");
            Assert.Contains(warm.Zip(trained), pair => !pair.First.Data.AsSpan().SequenceEqual(pair.Second.Data));
        }
        finally
        {
            if (Directory.Exists(config.OutputDir)) Directory.Delete(config.OutputDir, recursive: true);
        }
    }
}
