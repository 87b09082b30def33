using System.Text.Json;
using RlhfActors.Tests.Cli;
using RlhfActors.Tests.IO;
using RlhfActors.Tests.Model;
using RlhfActors.Training.Checkpoints;
using RlhfActors.Training.Data;
using RlhfActors.Training.IO;
using RlhfActors.Training.Model;
using RlhfActors.Training.Peft;
using RlhfActors.Training.Rl;
using RlhfActors.Training.Sft;
using RlhfActors.Training.Tokenization;
using RlhfActors.Training.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace RlhfActors.Tests.Peft;

/// <summary>LoRA checkpoints (merged policy + adapter/), loading adapter folders, and <c>rlhf export</c>.</summary>
public sealed class PeftCheckpointTests : IDisposable
{
    static readonly Dictionary<string, string> Provenance = new() { ["config_sha256"] = "abc" };
    readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    static SftLearner Learner(LoraSettings? peft, int steps)
    {
        var data = ExperimentData.Load(new DataSpec
        {
            Task = "reverse", TaskParameters = new Dictionary<string, int> { ["length"] = 3 }, TrainExamples = 64, EvalExamples = 4, Seed = 4,
        });
        var config = new ModelConfig
        {
            VocabSize = 0, HiddenSize = 32, IntermediateSize = 64, NumHiddenLayers = 2, NumAttentionHeads = 4,
            NumKeyValueHeads = 2, MaxPositionEmbeddings = 32, TieWordEmbeddings = true, RmsNormEps = 1e-5,
        };
        var learner = SftLearner.Create(new SftLearnerSpec(new ModelSource { Config = config }, "char", data.Train,
            new SftOptions { Steps = 10, BatchSize = 8, LearningRate = 2e-2, WarmupSteps = 0 }, Seed: 4, Peft: peft));
        for (int i = 0; i < steps; i++) learner.Step();
        return learner;
    }

    static LoraSettings Settings => new() { Rank = 4, Alpha = 8, TargetModules = ["q_proj", "v_proj", "down_proj"] };

    static Tensor Logits(DecoderModel model)
    {
        using var _ = no_grad();
        model.eval();
        return model.Forward(tensor(new long[] { 1, 5, 9, 2, 7, 3, 4, 4, 8, 1, 0, 6 }, new long[] { 2, 6 })).detach();
    }

    static void AssertClose(Tensor expected, Tensor actual, string what) =>
        Assert.True(torch.allclose(expected, actual, rtol: 1e-4, atol: 1e-4), $"{what}: max |diff| {(expected - actual).abs().max().item<float>()}");

    static string Hex(IEnumerable<TensorBytes> tensors) => string.Join(",", tensors.OrderBy(t => t.Name, StringComparer.Ordinal).Select(t => t.Name + ":" + Convert.ToHexString(t.Data)));

    [Fact]
    public void A_lora_checkpoint_holds_the_merged_policy_and_a_hashed_adapter_folder()
    {
        using var learner = Learner(Settings, steps: 3);
        var checkpoint = Path.Combine(_dir.Path, "checkpoint-3");
        learner.SaveCheckpoint(checkpoint, Provenance, baseModelPath: "some/base");

        var manifest = CheckpointReader.Verify(checkpoint);
        Assert.Contains("adapter/adapter_config.json", manifest.Files.Keys);
        Assert.Contains("adapter/adapter_model.safetensors", manifest.Files.Keys);
        var loaded = CheckpointReader.Open(checkpoint);
        Assert.Equal(Hex(learner.ExportWeights()), Hex(loaded.Weights));
        Assert.NotNull(loaded.Adapter);
        Assert.Equal(Hex(Lora.ExportAdapter(learner.Model)), Hex(loaded.Adapter!.Tensors));
        Assert.Equal("some/base", loaded.Adapter.BaseModelNameOrPath);
        Assert.True(loaded.Adapter.Settings.SameAs(Settings));

        // Flip one byte of the adapter's weights: the manifest hash catches it, naming the file.
        var weights = Path.Combine(checkpoint, "adapter", "adapter_model.safetensors");
        var bytes = File.ReadAllBytes(weights);
        bytes[^1] ^= 0x5a;
        File.WriteAllBytes(weights, bytes);
        var e = Assert.Throws<InvalidDataException>(() => CheckpointReader.Verify(checkpoint));
        Assert.Contains("adapter/adapter_model.safetensors SHA-256", e.Message);
    }

    [Fact]
    public void Resuming_a_lora_checkpoint_restores_the_base_and_the_adapter_not_the_merged_weights_as_base()
    {
        using var learner = Learner(Settings, steps: 3);
        var checkpoint = Path.Combine(_dir.Path, "checkpoint-3");
        learner.SaveCheckpoint(checkpoint, Provenance);
        using var resumed = Learner(Settings, steps: 0);
        resumed.LoadCheckpoint(checkpoint);

        Assert.Equal(3, resumed.StepsDone);
        AssertClose(Logits(learner.Model), Logits(resumed.Model), "resumed policy");
        AssertClose(Lora.WithAdaptersOff(learner.Model, () => Logits(learner.Model)),
            Lora.WithAdaptersOff(resumed.Model, () => Logits(resumed.Model)), "resumed base");
        Assert.Equal(Hex(Lora.ExportAdapter(learner.Model)), Hex(Lora.ExportAdapter(resumed.Model)));
        using var full = Learner(peft: null, steps: 0);
        Assert.Contains("holds a LoRA adapter", Assert.Throws<InvalidDataException>(() => full.LoadCheckpoint(checkpoint)).Message);
    }

    [Fact]
    public void A_full_fine_tuning_checkpoint_has_no_adapter_and_an_unlisted_adapter_folder_is_refused()
    {
        using var learner = Learner(peft: null, steps: 1);
        var checkpoint = Path.Combine(_dir.Path, "ckpt");
        learner.SaveCheckpoint(checkpoint, Provenance);
        var manifest = CheckpointReader.Verify(checkpoint);
        Assert.DoesNotContain(manifest.Files.Keys, k => k.Contains('/'));
        Assert.Null(CheckpointReader.Open(checkpoint).Adapter);

        Directory.CreateDirectory(Path.Combine(checkpoint, "adapter"));
        Assert.Contains("adapter/ folder that manifest.json does not list",
            Assert.Throws<InvalidDataException>(() => CheckpointReader.Verify(checkpoint)).Message);
    }

    [Theory]
    [InlineData("adapter/adapter_config.json", true)]
    [InlineData("model.safetensors", true)]
    [InlineData("../model.safetensors", false)]
    [InlineData("adapter/../../x", false)]
    [InlineData("adapter//x", false)]
    [InlineData("/etc/passwd", false)]
    [InlineData("adapter\\x", false)]
    [InlineData("./x", false)]
    public void Manifest_names_may_be_relative_paths_inside_the_checkpoint_only(string name, bool accepted)
    {
        var json = JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["format"] = CheckpointManifest.CurrentFormat, ["step"] = 1,
            ["files"] = new Dictionary<string, object> { [name] = new { sha256 = "00", bytes = 1 } },
        });
        if (accepted) Assert.Contains(name, CheckpointManifest.Parse(json, "c").Files.Keys);
        else Assert.Contains($"lists '{name}'", Assert.Throws<InvalidDataException>(() => CheckpointManifest.Parse(json, "c")).Message);
    }

    [Fact]
    public void Grpo_under_lora_checkpoints_the_merged_policy_not_the_base()
    {
        using var policy = TinyModels.Create(TinyModels.Llama() with { VocabSize = CharTokenizer.Instance.VocabSize }, 5, std: 0.02);
        Lora.Attach(policy, Settings, seed: 1);
        using (no_grad())
            foreach (var (_, p) in policy.named_parameters().Where(p => p.name.EndsWith("lora_B.weight"))) p.copy_(0.1 * randn(p.shape));
        using var learner = new GrpoLearner(policy, null, new GrpoOptions { NumGenerations = 2, Beta = 0 }, CharTokenizer.Instance.PadId);
        var checkpoint = Path.Combine(_dir.Path, "grpo");
        learner.SaveCheckpoint(checkpoint, 7, 1, Provenance, TokenizerFiles.FilesFor(CharTokenizer.Instance));

        var loaded = CheckpointReader.Open(checkpoint);
        Assert.Equal(Hex(Lora.ExportMerged(policy)), Hex(loaded.Weights));
        Assert.NotEqual(Hex(ModelFactory.ExportWeights(policy)), Hex(loaded.Weights));
        Assert.Equal(Hex(Lora.ExportAdapter(policy)), Hex(loaded.Adapter!.Tensors));
        Assert.Null(loaded.Adapter.BaseModelNameOrPath);
    }

    [Fact]
    public void An_adapter_folder_without_a_local_base_is_refused_naming_the_field()
    {
        using var learner = Learner(Settings, steps: 1);
        var folder = Path.Combine(_dir.Path, "adapter");
        PeftAdapterFolder.Write(folder, new PeftAdapter(Settings, Lora.ExportAdapter(learner.Model), null));
        var e = Assert.Throws<InvalidDataException>(() => ModelFactory.LoadFolder(folder, ScalarType.Float32, CPU));
        Assert.Contains("adapter_config.json: base_model_name_or_path is null", e.Message);
        Assert.Contains("local base model folder", e.Message);

        PeftAdapterFolder.Write(folder, new PeftAdapter(Settings, Lora.ExportAdapter(learner.Model), "org/hub-model"));
        e = Assert.Throws<InvalidDataException>(() => ModelFactory.LoadFolder(folder, ScalarType.Float32, CPU));
        Assert.Contains("base_model_name_or_path is 'org/hub-model'", e.Message);
    }

    [Fact]
    public async Task Export_of_a_lora_run_writes_merged_adapter_and_a_rebuilt_base_that_all_load_to_the_trained_policy()
    {
        using var learner = Learner(Settings, steps: 4);
        var run = Path.Combine(_dir.Path, "runs", "lora");
        learner.SaveCheckpoint(Path.Combine(run, "checkpoint-9"), Provenance);
        learner.Step();
        // checkpoint-10 is newer than checkpoint-9 by number (not by name).
        learner.SaveCheckpoint(Path.Combine(run, "checkpoint-10"), Provenance);
        var output = Path.Combine(_dir.Path, "export");

        var cli = await CliRunner.RunAsync("export", run, "--out", output);

        Assert.True(cli.ExitCode == 0, cli.ToString());
        Assert.Contains(Path.Combine(run, "checkpoint-10"), cli.Stdout);
        Assert.Contains(Path.Combine(output, "adapter", "adapter_model.safetensors"), cli.Stdout);
        Assert.Contains("base/ rebuilt", cli.Stdout);
        string[] Names(string sub) => Directory.GetFiles(Path.Combine(output, sub)).Select(f => Path.GetFileName(f)!).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(["config.json", "generation_config.json", "model.safetensors", TokenizerFiles.CharMarkerFileName], Names("merged"));
        Assert.Equal(["config.json", "generation_config.json", "model.safetensors", TokenizerFiles.CharMarkerFileName], Names("base"));
        Assert.Equal(["adapter_config.json", "adapter_model.safetensors"], Names("adapter"));
        Assert.Equal(["adapter", "base", "merged"], Directory.GetDirectories(output).Select(d => Path.GetFileName(d)!).Order().ToArray());
        Assert.Empty(Directory.GetDirectories(_dir.Path, "export.tmp-*"));
        var adapter = PeftAdapterFolder.Read(Path.Combine(output, "adapter"));
        Assert.Equal(Path.Combine(output, "base"), adapter.BaseModelNameOrPath);

        var trained = Logits(learner.Model);
        using var merged = ModelFactory.LoadFolder(Path.Combine(output, "merged"), ScalarType.Float32, CPU);
        using var adapted = ModelFactory.LoadFolder(Path.Combine(output, "adapter"), ScalarType.Float32, CPU);
        using var rebuiltBase = ModelFactory.LoadFolder(Path.Combine(output, "base"), ScalarType.Float32, CPU);
        AssertClose(trained, Logits(merged), "merged/ vs the learner");
        AssertClose(Logits(merged), Logits(adapted), "adapter/ on base/ vs merged/");
        AssertClose(Lora.WithAdaptersOff(learner.Model, () => Logits(learner.Model)), Logits(rebuiltBase), "base/ vs the learner's base");
        Assert.NotNull(adapted.Lora);
        Assert.True((Logits(merged) - Logits(rebuiltBase)).abs().max().item<float>() > 1e-3, "the trained adapter changes the model");

        // `rlhf generate` takes the adapter folder (config and tokenizer from its base) and agrees with merged/.
        var fromAdapter = await CliRunner.RunAsync("generate", "--model", Path.Combine(output, "adapter"), "--prompt", "abc|", "--greedy", "--max-new-tokens", "4", "--json");
        var fromMerged = await CliRunner.RunAsync("generate", "--model", Path.Combine(output, "merged"), "--prompt", "abc|", "--greedy", "--max-new-tokens", "4", "--json");
        Assert.True(fromAdapter.ExitCode == 0, fromAdapter.ToString());
        Assert.Equal(Ids(fromMerged.Stdout), Ids(fromAdapter.Stdout));
    }

    static string Ids(string json) => JsonDocument.Parse(json).RootElement.GetProperty("ids").GetRawText();

    [Fact]
    public void Export_keeps_an_adapter_base_that_is_a_local_folder()
    {
        using var learner = Learner(Settings, steps: 2);
        var baseFolder = Path.Combine(_dir.Path, "base-model");
        HfModelFolder.Save(baseFolder, learner.Model.Config, ModelFactory.ExportWeights(learner.Model));
        var checkpoint = Path.Combine(_dir.Path, "checkpoint-2");
        learner.SaveCheckpoint(checkpoint, Provenance, baseModelPath: baseFolder);

        var result = CheckpointExport.Export(checkpoint, Path.Combine(_dir.Path, "out"));

        Assert.False(result.WroteBase);
        Assert.False(Directory.Exists(Path.Combine(result.Output, "base")));
        Assert.Equal(baseFolder, PeftAdapterFolder.Read(Path.Combine(result.Output, "adapter")).BaseModelNameOrPath);
        using var adapted = ModelFactory.LoadFolder(Path.Combine(result.Output, "adapter"), ScalarType.Float32, CPU);
        AssertClose(Logits(learner.Model), Logits(adapted), "adapter/ on the run's base vs the learner");
    }

    [Fact]
    public async Task Export_of_a_full_fine_tuning_checkpoint_writes_only_merged_and_refuses_a_non_empty_out()
    {
        using var learner = Learner(peft: null, steps: 1);
        var checkpoint = Path.Combine(_dir.Path, "checkpoint-1");
        learner.SaveCheckpoint(checkpoint, Provenance);
        var output = Path.Combine(_dir.Path, "out");
        Directory.CreateDirectory(output); // empty is fine

        var ok = await CliRunner.RunAsync("export", checkpoint, "--out", output);
        Assert.True(ok.ExitCode == 0, ok.ToString());
        Assert.Equal(["merged"], Directory.GetDirectories(output).Select(d => Path.GetFileName(d)!).ToArray());
        Assert.Equal(File.ReadAllBytes(Path.Combine(checkpoint, "model.safetensors")), File.ReadAllBytes(Path.Combine(output, "merged", "model.safetensors")));
        Assert.False(File.Exists(Path.Combine(output, "merged", CheckpointFiles.OptimizerState)));
        Assert.False(File.Exists(Path.Combine(output, "merged", CheckpointManifest.FileName)));

        var again = await CliRunner.RunAsync("export", checkpoint, "--out", output);
        Assert.True(again.ExitCode == 2, again.ToString());
        Assert.Contains("exists and is not empty", again.Stderr);

        var missing = await CliRunner.RunAsync("export", Path.Combine(_dir.Path, "nope"), "--out", Path.Combine(_dir.Path, "out2"));
        Assert.True(missing.ExitCode == 2, missing.ToString());
        Assert.Contains("does not exist", missing.Stderr);

        File.AppendAllText(Path.Combine(checkpoint, "config.json"), " ");
        var corrupt = await CliRunner.RunAsync("export", checkpoint, "--out", Path.Combine(_dir.Path, "out3"));
        Assert.True(corrupt.ExitCode == 2, corrupt.ToString());
        Assert.Contains("config.json is", corrupt.Stderr);
        Assert.False(Directory.Exists(Path.Combine(_dir.Path, "out3")));
    }
}
