using System.Text.Json;
using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Abstractions.Learner;
using RlhfActors.Tests.Grains;
using RlhfActors.Training.Checkpoints;

namespace RlhfActors.Tests.Peft;

/// <summary>
/// A LoRA run whose <c>model.init</c> is a local model folder: its checkpoint's adapter names that folder in
/// <c>base_model_name_or_path</c> (transformers and PEFT load the adapter on it), and `rlhf export` then writes no
/// rebuilt copy of the base. Through the learner grain, on the test cluster.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class AdapterBaseTests(ClusterFixture fixture)
{
    [Fact]
    public async Task A_lora_checkpoint_on_a_local_base_names_it_and_its_export_rebuilds_no_base()
    {
        // The base: a full-model folder (a checkpoint of an untrained run is one).
        var plain = TinyExperiment.Create("adapter-base-source");
        var source = fixture.Client.GetGrain<ILearnerGrain>(plain.Name);
        await source.Initialize(plain);
        var baseFolder = Path.Combine(plain.OutputDir, "base-0");
        await source.SaveCheckpoint(new CheckpointRequest { Directory = baseFolder });
        await source.Release();

        var lora = TinyExperiment.Create("adapter-base-lora") with
        {
            Model = plain.Model with { Init = baseFolder, ConfigJson = null, Tokenizer = "char" },
            Peft = new PeftSection { Type = PeftType.Lora, R = 4, Alpha = 8, Stages = [PeftSection.SftStage] },
        };
        var learner = fixture.Client.GetGrain<ILearnerGrain>(lora.Name);
        await learner.Initialize(lora);
        await learner.TrainSteps(2);
        var checkpoint = Path.Combine(lora.OutputDir, "checkpoint-2");
        await learner.SaveCheckpoint(new CheckpointRequest { Directory = checkpoint });
        await learner.Release();

        using (var adapterConfig = JsonDocument.Parse(File.ReadAllText(Path.Combine(checkpoint, "adapter", "adapter_config.json"))))
            Assert.Equal(Path.GetFullPath(baseFolder), adapterConfig.RootElement.GetProperty("base_model_name_or_path").GetString());

        var exported = CheckpointExport.Export(checkpoint, Path.Combine(lora.OutputDir, "export"));
        Assert.False(exported.WroteBase);
        Assert.False(Directory.Exists(Path.Combine(exported.Output, CheckpointExport.BaseFolder)));
        using var exportedAdapter = JsonDocument.Parse(File.ReadAllText(Path.Combine(exported.Output, "adapter", "adapter_config.json")));
        Assert.Equal(Path.GetFullPath(baseFolder), exportedAdapter.RootElement.GetProperty("base_model_name_or_path").GetString());
    }
}
