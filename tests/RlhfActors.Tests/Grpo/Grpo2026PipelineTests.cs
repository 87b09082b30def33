using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Experiments;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Grains.Specs;

namespace RlhfActors.Tests.Grpo;

/// <summary>GSPO, CISPO, the sampler–learner mismatch correction (with bf16 samplers), off-policy sequence masking and
/// GDPO's normalize_then_sum, each through the grains on the split cluster (every message crossing silos), giving the
/// same weights as the in-process <see cref="Training.Rl.GrpoLoop"/> running the same config.</summary>
[Collection(SplitClusterCollection.Name)]
public sealed class Grpo2026PipelineTests(SplitClusterFixture fixture)
{
    static string NewName(string what) => $"{what}-{Guid.NewGuid():N}"[..24];

    public static TheoryData<string> Variants => ["gspo", "cispo", "bf16-samplers", "normalize-then-sum"];

    static ExperimentConfig Variant(string variant, string name)
    {
        var tiny = TinyGrpo.Create(name);
        // Two passes: the second sees ratios ≠ 1, so the clip (GSPO) and the cap (CISPO) act.
        var g = tiny.Grpo with { NumIterations = 2 };
        return variant switch
        {
            "gspo" => tiny with { Grpo = g with { ImportanceSamplingLevel = ImportanceSamplingLevelType.Sequence, LossType = GrpoLossType.Grpo, EpsilonLow = 0.02 } },
            "cispo" => tiny with
            {
                Grpo = g with
                {
                    LossType = GrpoLossType.Cispo, EpsilonHigh = 1.01,
                    VllmImportanceSamplingCorrection = true, VllmImportanceSamplingMode = MismatchModeType.TokenTruncate,
                    OffPolicyMaskThreshold = 0.0,
                },
            },
            // The correction switches itself on: the samplers compute in bf16, the learner in fp32.
            "bf16-samplers" => tiny with { Model = tiny.Model with { SamplerDType = ModelDType.Bf16 }, Grpo = g },
            "normalize-then-sum" => tiny with { Grpo = g with { MultiObjectiveAggregation = MultiObjectiveAggregationType.NormalizeThenSum } },
            _ => throw new ArgumentOutOfRangeException(nameof(variant)),
        };
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public async Task One_step_through_the_grains_equals_the_in_process_step(string variant)
    {
        var config = Variant(variant, NewName("grpo26"));
        try
        {
            var status = await GrpoRuns.RunAsync(fixture.Client, config);
            Assert.True(status.State == ExperimentState.Completed, $"run ended {status.State}: {status.Error}");
            var index = await fixture.Client.GetGrain<IPolicyGrain>(config.Name).GetIndex();
            var latest = index[^1];
            var start = index.Single(v => v.Version == latest.Version - 1);

            using var inProcess = InProcessGrpo.Create(config);
            var warm = inProcess.WarmWeights;
            var metrics = inProcess.Step();
            var stepped = inProcess.ExportWeights();
            GrpoRuns.AssertPublished(warm, start, "after the SFT warm-up");
            GrpoRuns.AssertPublished(stepped, latest, $"after one {variant} step");
            Assert.Contains(warm.Zip(stepped), pair => !pair.First.Data.AsSpan().SequenceEqual(pair.Second.Data));

            var last = Metrics.RunHistory.Read(config.OutputDir).Last(l => l.Stage == "grpo");
            if (variant is "cispo" or "bf16-samplers")
            {
                // The learner measured the mismatch and logged it; bf16 copies differ from the fp32 learner visibly.
                Assert.NotNull(metrics.Mismatch);
                Assert.Equal(metrics.Mismatch!.MeanAbsLogpDiff, last["sampling/sampling_logp_difference/mean"]!.Value, 6);
                Assert.True(last["sampling/kl"] >= 0, last.ToJson());
                if (variant == "bf16-samplers") Assert.True(metrics.Mismatch.MeanAbsLogpDiff > 1e-4, $"bf16 mismatch {metrics.Mismatch.MeanAbsLogpDiff}");
            }
            else Assert.Null(metrics.Mismatch);
            if (variant == "cispo") Assert.NotNull(last["off_policy/masked_fraction"]);
        }
        finally
        {
            if (Directory.Exists(config.OutputDir)) Directory.Delete(config.OutputDir, recursive: true);
        }
    }
}
