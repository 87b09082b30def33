using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using RlhfActors.Grains.Device;
using RlhfActors.Abstractions;
using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Experiments;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Abstractions.Rollouts;
using RlhfActors.Grains.Specs;
using RlhfActors.Grains.Tensors;
using RlhfActors.Training.Weights;

namespace RlhfActors.Tests.Grpo;

[Collection(SplitClusterCollection.Name)]
public sealed class GrpoPipelineTests(SplitClusterFixture fixture)
{
    static string NewName(string what) => $"{what}-{Guid.NewGuid():N}"[..24];

    /// <summary>The equivalence test: SFT warm-up, then one GRPO step (2 samplers, β &gt; 0, two rewards)
    /// through controller → samplers → reward → reference → learner → policy registry, every message crossing
    /// silos, gives bit-identical weights to <see cref="GrpoLoop"/> running the same math in this process. Under
    /// dynamic sampling the controller filters and refills the rollouts it merged, as the loop does.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task One_grpo_step_through_the_grains_equals_the_in_process_step(bool dynamicSampling)
    {
        var tiny = TinyGrpo.Create(NewName("grpo-equal"));
        // Exact match alone leaves groups without signal (all right or all wrong) for the filter to drop.
        var config = dynamicSampling ? tiny with { Grpo = tiny.Grpo with { DynamicSampling = true, Rewards = [new RewardTerm { Name = "exact_match" }] } } : tiny;
        try
        {
            var status = await GrpoRuns.RunAsync(fixture.Client, config);
            Assert.True(status.State == ExperimentState.Completed, $"run ended {status.State}: {status.Error}");
            // The run released its weights when it ended; the registry's index names each version by digest.
            var registry = fixture.Client.GetGrain<IPolicyGrain>(config.Name);
            Assert.Equal(0, await registry.GetHeldBytes());
            var index = await registry.GetIndex();
            var latest = index[^1];
            var start = index.Single(v => v.Version == latest.Version - 1);
            var result = await fixture.Client.GetGrain<IExperimentGrain>(config.Name).GetResult();
            Assert.Equal(1, result!.Grpo!.Steps);
            Assert.NotNull(result.Grpo.LastKl);
            // The filter had groups to drop: the step's rollouts are a selection of what the samplers returned.
            if (dynamicSampling) Assert.True(result.Grpo.FilteredGroups > 0, "no group was filtered: the test does not reach the filter");

            using var inProcess = InProcessGrpo.Create(config);
            var warm = inProcess.WarmWeights;
            inProcess.Step();
            var stepped = inProcess.ExportWeights();

            GrpoRuns.AssertPublished(warm, start, "after the SFT warm-up");
            GrpoRuns.AssertPublished(stepped, latest, "after one GRPO step");
            Assert.Contains(warm.Zip(stepped), pair => !pair.First.Data.AsSpan().SequenceEqual(pair.Second.Data));
        }
        finally
        {
            Cleanup(config);
        }
    }

    [Fact]
    public async Task The_heavy_grains_run_on_the_accelerator_silo()
    {
        var config = TinyGrpo.Create(NewName("grpo-where"));
        // By what the silo advertises: the cluster's silo list is not in start-up order.
        var accelerator = Assert.Single(fixture.Cluster.Silos,
            s => s.ServiceProvider.GetRequiredService<DeviceAllocator>().Hardware.HasAccelerator).SiloAddress;
        var learner = await fixture.Client.GetGrain<ILearnerGrain>(config.Name).GetPlacement();
        var sampler = await fixture.Client.GetGrain<IRolloutSamplerGrain>(GrainKeys.Sampler(config.Name, 1)).GetPlacement();
        var reference = await fixture.Client.GetGrain<IReferenceGrain>(config.Name).GetPlacement();
        Assert.All(new[] { learner, sampler, reference }, p => Assert.Equal(accelerator, p.Silo));
    }

    /// <summary>Async mode: every batch after the first was sampled one version behind the learner, and none older
    /// than max_staleness was trained on.</summary>
    [Fact]
    public async Task Async_mode_never_trains_on_rollouts_older_than_max_staleness()
    {
        var config = TinyGrpo.Create(NewName("grpo-async"), grpoSteps: 4, mode: GrpoMode.Async);
        try
        {
            var status = await GrpoRuns.RunAsync(fixture.Client, config);
            Assert.True(status.State == ExperimentState.Completed, $"run ended {status.State}: {status.Error}");
            var grpo = status.Grpo!;
            Assert.Equal(4, grpo.Steps);
            Assert.InRange(grpo.MaxTrainedStaleness, 1, config.Grpo.MaxStaleness);
            int rows = config.Grpo.PromptsPerStep * config.Grpo.NumGenerations;
            Assert.Equal(3 * rows, grpo.StaleRollouts);
            Assert.Equal(0, grpo.DroppedRollouts);
            // The stage's last step is logged whatever logging_steps, with what the step computed and the totals.
            var lines = Metrics.RunHistory.Read(config.OutputDir);
            var last = Metrics.RunHistory.AssertLast(lines, "grpo", "loss", "reward", "reward_std", "kl", "clip_fraction", "entropy",
                "completion_length", "grad_norm", "sync/bytes", "sync/seconds", "rollouts/stale", "rollouts/dropped", "eval/accuracy");
            Assert.Equal(status.Step, last.Step);
            Assert.Equal(3 * rows, last["rollouts/stale"]);
            Assert.True(last["entropy"] > 0 && last["sync/bytes"] > 0, last.ToJson());
        }
        finally
        {
            Cleanup(config);
        }
    }

    /// <summary>The learner grain itself refuses a batch that fell too far behind: the same rollouts, fed again
    /// after an update, are one version old, which max_staleness 0 does not allow.</summary>
    [Fact]
    public async Task The_learner_grain_drops_a_batch_older_than_max_staleness()
    {
        var config = TinyGrpo.Create(NewName("grpo-stale"), samplers: 1);
        config = config with { Grpo = config.Grpo with { Beta = 0, MaxStaleness = 0 } };
        var learner = fixture.Client.GetGrain<ILearnerGrain>(config.Name);
        var sampler = fixture.Client.GetGrain<IRolloutSamplerGrain>(GrainKeys.Sampler(config.Name, 0));
        try
        {
            var info = await learner.Initialize(config);
            var start = await learner.StartGrpo();
            await sampler.Initialize(new Abstractions.Sampling.SamplerInit { Config = config, ModelConfigJson = info.ModelConfigJson });
            var rollouts = await sampler.Generate(new RolloutRequest
            {
                Prompts = [new PromptItem("1+2=", "3"), new PromptItem("4+4=", "8")],
                GroupSize = 2, MaxNewTokens = 3, Seed = 1, MinVersion = start.Version,
            });
            Assert.Equal(start.Version, rollouts.PolicyVersion);
            var request = new GrpoStepRequest { Rollouts = rollouts, Rewards = [1, 0, 0, 1], LearningRate = 0.01 };

            var first = await learner.GrpoStep(request);
            var second = await learner.GrpoStep(request);

            Assert.False(first.Dropped);
            Assert.Equal(start.Version + 1, first.PolicyVersion);
            Assert.True(second.Dropped);
            Assert.Equal(1, second.Staleness);
            Assert.Equal(first.PolicyVersion, second.PolicyVersion);
            Assert.Equal(first.PolicyVersion, await fixture.Client.GetGrain<IPolicyGrain>(config.Name).GetLatestVersionNumber());
        }
        finally
        {
            await learner.Release();
            await sampler.Release();
        }
    }

    static void Cleanup(ExperimentConfig config)
    {
        if (Directory.Exists(config.OutputDir)) Directory.Delete(config.OutputDir, recursive: true);
    }
}
