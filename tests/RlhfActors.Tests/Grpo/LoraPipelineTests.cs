using System.Diagnostics;
using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Experiments;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Grains.Specs;
using RlhfActors.Grains.Tensors;
using RlhfActors.Training.Model;
using RlhfActors.Training.Peft;
using RlhfActors.Training.Weights;

namespace RlhfActors.Tests.Grpo;

/// <summary>GRPO under LoRA / QLoRA through the grains on the split cluster: the learner publishes its base once
/// and then only adapters, the samplers rebuild the policy from base + adapter, the reference is the learner's base
/// with adapters off — and the result is bit-identical to the same config run in-process.</summary>
[Collection(SplitClusterCollection.Name)]
public sealed class LoraPipelineTests(SplitClusterFixture fixture)
{
    [Theory]
    [InlineData(PeftSection.Lora)]
    [InlineData(PeftSection.Qlora)]
    public async Task Adapter_only_grpo_through_the_grains_equals_the_in_process_run(string type)
    {
        var config = TinyGrpo.Create($"peft-{type}-{Guid.NewGuid():N}"[..24], grpoSteps: 2);
        // The usual recipe: a full warm-up, then adapters for RL (a 20-step LoRA warm-up of a scratch model learns too
        // little to give the rewards any signal).
        config = config with { Peft = new PeftSection { Type = type, R = 4, Alpha = 8, Stages = [PeftSection.GrpoStage] } };
        try
        {
            var status = await RunAsync(config);
            Assert.True(status.State == ExperimentState.Completed, $"run ended {status.State}: {status.Error}");
            var registry = fixture.Client.GetGrain<IPolicyGrain>(config.Name);
            var latest = await registry.GetLatest();
            Assert.NotNull(latest);
            Assert.True(latest.IsAdapter, "under LoRA a GRPO update publishes the adapter only");
            Assert.All(latest.Weights, w => Assert.True(Lora.IsAdapterName(w.Name), w.Name));
            var baseVersion = await registry.GetVersion(latest.BaseVersion);
            Assert.NotNull(baseVersion);
            Assert.False(baseVersion.IsAdapter);

            long adapterBytes = latest.Describe().Bytes, baseBytes = baseVersion.Describe().Bytes;
            Assert.Equal(adapterBytes, status.Grpo!.LastSyncBytes);
            Assert.True(adapterBytes < baseBytes / 4, $"adapter {adapterBytes} bytes vs base {baseBytes}");
            Assert.NotNull(status.Grpo.LastKl); // β > 0: the learner's adapters-off reference was used

            using var inProcess = InProcessGrpo.Create(config);
            var warmBase = ModelFactory.ExportWeights(inProcess.Policy);
            var metrics = Enumerable.Range(0, config.Grpo.Steps).Select(_ => inProcess.Step()).ToArray();
            AssertSameWeights(warmBase, baseVersion.Weights.Select(w => w.ToTensorBytes()).ToArray(), "base after the warm-up (merged)");
            AssertSameWeights(Lora.ExportAdapter(inProcess.Policy), latest.Weights.Select(w => w.ToTensorBytes()).ToArray(), "adapter after GRPO");
            Assert.True(Lora.ExportAdapter(inProcess.Policy).Any(t => t.Name.EndsWith("lora_B.weight") && t.Data.Any(b => b != 0)),
                string.Join("; ", metrics.Select(m => m.ToString())));
        }
        finally
        {
            if (Directory.Exists(config.OutputDir)) Directory.Delete(config.OutputDir, recursive: true);
        }
    }

    async Task<ExperimentStatus> RunAsync(ExperimentConfig config)
    {
        var grain = fixture.Client.GetGrain<IExperimentGrain>(config.Name);
        await grain.Start(config);
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var status = await grain.GetStatus();
            if (status.IsFinished) return status;
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(90), $"still {status.State} ({status.Phase}) at step {status.Step} after 90 s");
            await Task.Delay(100);
        }
    }

    static void AssertSameWeights(IReadOnlyList<TensorBytes> expected, IReadOnlyList<TensorBytes> actual, string when)
    {
        Assert.Equal(expected.Select(t => t.Name).Order(), actual.Select(t => t.Name).Order());
        var byName = actual.ToDictionary(t => t.Name);
        foreach (var tensor in expected)
            Assert.True(tensor.Data.AsSpan().SequenceEqual(byName[tensor.Name].Data), $"{tensor.Name} differs {when}");
    }
}
