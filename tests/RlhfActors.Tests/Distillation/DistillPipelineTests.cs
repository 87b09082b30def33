using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using RlhfActors.Abstractions;
using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Experiments;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Grains.Device;
using RlhfActors.Grains.Specs;
using RlhfActors.Tests.Grpo;

namespace RlhfActors.Tests.Distillation;

[Collection(SplitClusterCollection.Name)]
public sealed class DistillPipelineTests(SplitClusterFixture fixture)
{
    static string NewName(string what) => $"{what}-{Guid.NewGuid():N}"[..24];

    /// <summary>The equivalence test for distillation: SFT warm-up, then distillation steps through
    /// controller → samplers (two shards) → teacher grain → learner → policy registry, every message crossing silos,
    /// give bit-identical weights to <see cref="InProcessDistill"/> running the same math in this process. reverse_kl
    /// is on-policy every step; jsd with λ = 0.5 over 4 steps mixes dataset and on-policy steps (both kinds are
    /// checked to occur) and sends top-k distributions.</summary>
    [Theory]
    [InlineData(DistillLossType.ReverseKl, 0)]
    [InlineData(DistillLossType.Jsd, 5)]
    public async Task Distillation_through_the_grains_equals_the_in_process_loop(DistillLossType loss, int topK)
    {
        var config = loss == DistillLossType.ReverseKl
            ? TinyDistill.Create(NewName("kd-equal"))
            : TinyDistill.Create(NewName("gkd-equal"), loss, steps: 4, lmbda: 0.5, topK: topK);
        try
        {
            var status = await GrpoRuns.RunAsync(fixture.Client, config);
            Assert.True(status.State == ExperimentState.Completed, $"run ended {status.State}: {status.Error}");
            var index = await fixture.Client.GetGrain<IPolicyGrain>(config.Name).GetIndex();
            var latest = index[^1];
            Assert.Equal(config.Sft.Steps + config.Distill.Steps, latest.Step);
            var stage = Assert.Single(status.Stages, s => s.Name == "distill");
            Assert.True(stage.Metrics["teacher_tokens"] > 0);
            int onPolicy = (int)stage.Metrics["on_policy_steps"];
            if (loss == DistillLossType.Jsd) Assert.InRange(onPolicy, 1, config.Distill.Steps - 1);
            else Assert.Equal(config.Distill.Steps, onPolicy);

            using var inProcess = InProcessDistill.Create(config);
            long tokens = 0;
            for (int i = 0; i < config.Distill.Steps; i++) tokens += inProcess.Step().CompletionTokens;
            GrpoRuns.AssertPublished(inProcess.ExportWeights(), latest, $"after {config.Distill.Steps} {loss} steps");
            Assert.Equal(tokens, stage.Metrics["teacher_tokens"]);
        }
        finally
        {
            Cleanup(config);
        }
    }

    /// <summary>Two experiments naming the same teacher share one activation: one load, both attached at once, on the
    /// accelerator silo; it stays loaded until the second one is done with it.</summary>
    [Fact]
    public async Task Two_experiments_share_one_teacher_activation()
    {
        var first = TinyDistill.Create(NewName("kd-share-a"), steps: 8, samplers: 1);
        var second = TinyDistill.Create(NewName("kd-share-b"), steps: 8, samplers: 1);
        var (key, _) = DistillSpecs.Teacher(first);
        Assert.Equal(key, DistillSpecs.Teacher(second).Key);
        var teacher = fixture.Client.GetGrain<ITeacherGrain>(key);
        try
        {
            var runs = Task.WhenAll(GrpoRuns.RunAsync(fixture.Client, first), GrpoRuns.RunAsync(fixture.Client, second));
            int mostAttached = 0, loads = 0;
            var clock = Stopwatch.StartNew();
            while (!runs.IsCompleted && clock.Elapsed < TimeSpan.FromSeconds(90))
            {
                var info = await teacher.GetInfo();
                if (info.Experiments.Length > mostAttached) (mostAttached, loads) = (info.Experiments.Length, info.Loads);
                await Task.Delay(20);
            }
            var statuses = await runs;
            Assert.All(statuses, s => Assert.True(s.State == ExperimentState.Completed, $"run ended {s.State}: {s.Error}"));
            Assert.Equal(2, mostAttached);
            Assert.Equal(1, loads);

            // The grain level, without timing: attach twice, one load; released by one, still serving the other.
            var (_, init) = DistillSpecs.Teacher(first);
            await teacher.Attach(init, "a");
            var info2 = await teacher.Attach(init, "b");
            Assert.Equal(["a", "b"], info2.Experiments.ToArray());
            Assert.Equal(1, info2.Loads);
            var accelerator = Assert.Single(fixture.Cluster.Silos,
                s => s.ServiceProvider.GetRequiredService<DeviceAllocator>().Hardware.HasAccelerator).SiloAddress;
            Assert.Equal(accelerator, (await teacher.GetPlacement()).Silo);
            await teacher.Release("a");
            Assert.Equal(["b"], (await teacher.GetInfo()).Experiments.ToArray());
            Assert.Equal(99, (await teacher.GetInfo()).VocabSize);
            await teacher.Release("b");
        }
        finally
        {
            Cleanup(first);
            Cleanup(second);
        }
    }

    static void Cleanup(ExperimentConfig config)
    {
        if (Directory.Exists(config.OutputDir)) Directory.Delete(config.OutputDir, recursive: true);
    }
}
