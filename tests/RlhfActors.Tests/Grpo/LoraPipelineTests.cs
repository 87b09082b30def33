using System.Diagnostics;
using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Experiments;
using RlhfActors.Abstractions;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Abstractions.Policy;
using RlhfActors.Abstractions.Rollouts;
using RlhfActors.Abstractions.Sampling;
using RlhfActors.Training.Sampling;
using RlhfActors.Training.Sft;
using RlhfActors.Training.Tokenization;
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
    [InlineData(PeftType.Lora)]
    [InlineData(PeftType.Qlora)]
    public async Task Adapter_only_grpo_through_the_grains_equals_the_in_process_run(PeftType type)
    {
        var config = TinyGrpo.Create($"peft-{type}-{Guid.NewGuid():N}"[..24], grpoSteps: 2);
        // The usual recipe: a full warm-up, then adapters for RL (a 20-step LoRA warm-up of a scratch model learns too
        // little to give the rewards any signal).
        config = config with { Peft = new PeftSection { Type = type, R = 4, Alpha = 8, Stages = [PeftSection.GrpoStage] } };
        try
        {
            var status = await GrpoRuns.RunAsync(fixture.Client, config);
            Assert.True(status.State == ExperimentState.Completed, $"run ended {status.State}: {status.Error}");
            var registry = fixture.Client.GetGrain<IPolicyGrain>(config.Name);
            var latest = await registry.GetLatest();
            Assert.NotNull(latest);
            Assert.True(latest.IsAdapter, "under LoRA a GRPO update publishes the adapter only");
            Assert.All(latest.Weights, w => Assert.True(Lora.IsAdapterName(w.Name), w.Name));
            // The run released its base with it (only the newest adapter stays, for serving); the index still
            // describes it.
            Assert.Null(await registry.GetVersion(latest.BaseVersion));
            Assert.Equal(latest.Describe().Bytes, await registry.GetHeldBytes());
            var baseVersion = (await registry.GetIndex()).Single(v => v.Version == latest.BaseVersion);
            Assert.Equal(-1, baseVersion.BaseVersion);

            long adapterBytes = latest.Describe().Bytes, baseBytes = baseVersion.Bytes;
            Assert.Equal(adapterBytes, status.Grpo!.LastSyncBytes);
            Assert.True(adapterBytes < baseBytes / 4, $"adapter {adapterBytes} bytes vs base {baseBytes}");
            Assert.NotNull(status.Grpo.LastKl); // β > 0: the learner's adapters-off reference was used

            using var inProcess = InProcessGrpo.Create(config);
            var warmBase = ModelFactory.ExportWeights(inProcess.Policy);
            var metrics = Enumerable.Range(0, config.Grpo.Steps).Select(_ => inProcess.Step()).ToArray();
            GrpoRuns.AssertPublished(warmBase, baseVersion, "base after the warm-up (merged)");
            GrpoRuns.AssertSameWeights(Lora.ExportAdapter(inProcess.Policy), latest.Weights.Select(w => w.ToTensorBytes()).ToArray(), "adapter after GRPO");
            Assert.True(Lora.ExportAdapter(inProcess.Policy).Any(t => t.Name.EndsWith("lora_B.weight") && t.Data.Any(b => b != 0)),
                string.Join("; ", metrics.Select(m => m.ToString())));
        }
        finally
        {
            if (Directory.Exists(config.OutputDir)) Directory.Delete(config.OutputDir, recursive: true);
        }
    }

    /// <summary>Multi-LoRA serving on two silos: two experiments train adapters on the same base (same seed and warm-up,
    /// different GRPO learning rates) and finish, their registries keeping their newest adapters only; one sampler,
    /// of a host experiment that holds that base, serves a batch whose rows name either experiment or the bare base,
    /// and every row generates exactly what that adapter generates alone on a model built here from the base and the
    /// registry's adapter. A third experiment on another base is refused.</summary>
    [Fact]
    public async Task One_sampler_serves_the_adapters_of_experiments_that_share_a_base()
    {
        ExperimentConfig Make(string tag, double lr, int seed)
        {
            var c = TinyGrpo.Create($"multi-{tag}-{Guid.NewGuid():N}"[..24], grpoSteps: 2);
            return c with
            {
                Seed = seed,
                Grpo = c.Grpo with { LearningRate = lr },
                Peft = new PeftSection { Type = PeftType.Lora, R = 4, Alpha = 8, Stages = [PeftSection.GrpoStage] },
            };
        }
        var a = Make("a", 0.05, 5);
        var b = Make("b", 0.02, 5);
        var other = Make("c", 0.05, 6);
        string? host = null;
        try
        {
            foreach (var config in new[] { a, b, other })
            {
                var status = await GrpoRuns.RunAsync(fixture.Client, config);
                Assert.True(status.State == ExperimentState.Completed, $"{config.Name} ended {status.State}: {status.Error}");
            }
            var latestA = (await fixture.Client.GetGrain<IPolicyGrain>(a.Name).GetLatest())!;
            var latestB = (await fixture.Client.GetGrain<IPolicyGrain>(b.Name).GetLatest())!;
            Assert.Equal(latestA.BaseSha256, latestB.BaseSha256);

            // The runs released their bases when they ended. The host publishes the base they share: the warm-up's
            // weights rebuilt in this process, bit for bit what both learners published (the adapters' BaseSha256).
            IReadOnlyList<TensorBytes> baseWeights;
            using (var warm = InProcessGrpo.Create(a)) baseWeights = ModelFactory.ExportWeights(warm.Policy);
            host = $"multi-host-{Guid.NewGuid():N}"[..24];
            var hostBase = await fixture.Client.GetGrain<IPolicyGrain>(host).Publish(new PolicyVersion
            {
                ExperimentId = host,
                Step = a.Sft.Steps,
                Weights = baseWeights.ToPayloads(),
                PublishedAt = DateTimeOffset.UtcNow,
            });
            Assert.Equal(latestA.BaseSha256, hostBase.Sha256);

            var modelConfig = ExperimentSpecs.Model(a.Model).Config! with { VocabSize = TokenizerFiles.Create("char").VocabSize };
            var sampler = fixture.Client.GetGrain<IRolloutSamplerGrain>(GrainKeys.Sampler(host, 0));
            await sampler.Initialize(new SamplerInit { Config = a with { Name = host }, ModelConfigJson = modelConfig.ToJson() });
            string?[] owners = [a.Name, b.Name, null, b.Name, a.Name, null];
            string[] prompts = ["3+4=", "1+1=", "2+7=", "9+9=", "0+5=", "6+2="];
            var result = await sampler.GenerateForAdapters(new AdapterGenerationRequest
            {
                Rows = [.. prompts.Zip(owners, (p, o) => new AdapterRow(p, o))],
                MaxNewTokens = 3,
            });
            Assert.Equal(latestA.Version, result.AdapterVersions[a.Name]);
            Assert.Equal(latestB.Version, result.AdapterVersions[b.Name]);

            var tokenizer = TokenizerFiles.Create("char");
            var options = new SamplingOptions { Greedy = true, MaxNewTokens = 3, StopTokens = [tokenizer.EosId] };
            GenerationResult Alone(PolicyVersion? adapter, string prompt)
            {
                using var model = new DecoderModel(modelConfig);
                ModelFactory.LoadWeights(model, baseWeights, "base");
                if (adapter is not null)
                {
                    Lora.Attach(model, new LoraSettings { Rank = 4, Alpha = adapter.AdapterAlpha }, seed: 0);
                    Lora.LoadAdapter(model, adapter.Weights.ToTensorBytes(), "adapter");
                }
                return Sampler.Generate(model, [EncodedExample.EncodePrompt(tokenizer, prompt)], options, padId: tokenizer.PadId);
            }
            var differs = false;
            for (int i = 0; i < prompts.Length; i++)
            {
                var alone = Alone(owners[i] == a.Name ? latestA : owners[i] == b.Name ? latestB : null, prompts[i]);
                Assert.Equal(alone.Ids[0], result.CompletionIds[i]);
                for (int t = 0; t < alone.LogProbs[0].Length; t++) Assert.Equal(alone.LogProbs[0][t], result.LogProbs[i][t], 4);
                if (owners[i] is not null)
                {
                    var bare = Alone(null, prompts[i]);
                    differs |= !bare.LogProbs[0].Zip(alone.LogProbs[0]).All(p => Math.Abs(p.First - p.Second) < 1e-4);
                }
            }
            Assert.True(differs, "the adapters change the outputs, so the comparison means something");

            var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => sampler.GenerateForAdapters(new AdapterGenerationRequest
            {
                Rows = [new AdapterRow("1+2=", other.Name)],
            }));
            Assert.Contains("trained on base", refused.Message);
            await sampler.Release();
        }
        finally
        {
            if (host is not null) await fixture.Client.GetGrain<IPolicyGrain>(host).Release();
            foreach (var config in new[] { a, b, other })
                if (Directory.Exists(config.OutputDir)) Directory.Delete(config.OutputDir, recursive: true);
        }
    }

}
