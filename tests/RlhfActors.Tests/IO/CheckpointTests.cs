using System.Text.Json;
using RlhfActors.Training.Checkpoints;
using RlhfActors.Training.IO;
using RlhfActors.Training.Weights;

namespace RlhfActors.Tests.IO;

public sealed class CheckpointTests : IDisposable
{
    readonly TempDirectory _root = new();
    public void Dispose() => _root.Dispose();

    static readonly IReadOnlyDictionary<string, string> Provenance = new Dictionary<string, string>
    {
        ["config_sha256"] = Hashing.Sha256Hex("config"u8),
        ["dataset_sha256"] = "ab".PadRight(64, '0'),
    };

    static IReadOnlyList<TensorBytes> Optimizer() => TinyModel.Weights(9)
        .Select(w => w with { Name = "exp_avg." + w.Name }).ToArray();

    string WriteOne(string name, int step = 100, int seed = 1) =>
        CheckpointWriter.Write(Path.Combine(_root.Path, "runs", "x", name), TinyModel.Config, TinyModel.Weights(seed), Optimizer(),
            """{"step": 100, "seed": 7, "cursor": 12}""", step, Provenance).Path;

    [Fact]
    public void Write_then_open_round_trips_everything_and_leaves_no_temporary_folder()
    {
        var dir = Path.Combine(_root.Path, "runs", "x", "step-100");
        var info = CheckpointWriter.Write(dir, TinyModel.Config, TinyModel.Weights(), Optimizer(),
            """{"step": 100, "seed": 7}""", 100, Provenance);

        Assert.Equal(Path.GetFullPath(dir), info.Path);
        Assert.Equal(100, info.Step);
        Assert.Equal(Hashing.Sha256Hex(Path.Combine(dir, "manifest.json")), info.ManifestSha256);
        Assert.Equal(new[] { "step-100" }, Directory.GetFileSystemEntries(Path.GetDirectoryName(dir)!).Select(Path.GetFileName));

        var loaded = CheckpointReader.Open(dir);
        Assert.Equal(100, loaded.Step);
        Assert.Equal(TinyModel.Config.HiddenSize, loaded.Config.HiddenSize);
        TinyModel.AssertSameTensors(TinyModel.Weights(), loaded.Weights);
        TinyModel.AssertSameTensors(Optimizer(), loaded.OptimizerState);
        Assert.Equal(7, JsonDocument.Parse(loaded.TrainerStateJson).RootElement.GetProperty("seed").GetInt32());
        Assert.Equal(Provenance, loaded.Provenance);
        Assert.Equal(CheckpointManifest.CurrentFormat, loaded.Manifest.Format);
        Assert.Equal(new FileInfo(Path.Combine(dir, "model.safetensors")).Length, loaded.Manifest.Files["model.safetensors"].Bytes);
        Assert.Contains("optimizer.safetensors", loaded.Manifest.Files.Keys);
        Assert.Contains("trainer_state.json", loaded.Manifest.Files.Keys);
        Assert.Contains("config.json", loaded.Manifest.Files.Keys);
        // transformers' save_pretrained writes a generation_config.json derived from config.json when the model has none.
        Assert.Contains("generation_config.json", loaded.Manifest.Files.Keys);
        var generation = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "generation_config.json"))).RootElement;
        Assert.True(generation.GetProperty("_from_model_config").GetBoolean());
    }

    [Fact]
    public void Trainer_state_json_has_transformers_shape_with_the_learners_record_under_rlhf()
    {
        var dir = Path.Combine(_root.Path, "runs", "x", "step-30");
        CheckpointWriter.Write(dir, TinyModel.Config, TinyModel.Weights(), Optimizer(), """{"step": 30, "seed": 7}""", 30, Provenance,
            progress: new TrainerProgress(MaxSteps: 100, TrainBatchSize: 8, Epoch: 1.5));
        var file = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "trainer_state.json"))).RootElement;
        Assert.Equal(30, file.GetProperty("global_step").GetInt32());
        Assert.Equal(100, file.GetProperty("max_steps").GetInt32());
        Assert.Equal(8, file.GetProperty("train_batch_size").GetInt32());
        Assert.Equal(1.5, file.GetProperty("epoch").GetDouble());
        Assert.Equal(5, file.GetProperty("num_train_epochs").GetInt32());   // 1.5 epochs in 30 steps: 5 in 100
        Assert.Equal(JsonValueKind.Array, file.GetProperty("log_history").ValueKind);
        Assert.True(file.GetProperty("is_world_process_zero").GetBoolean());
        Assert.Equal(7, file.GetProperty("rlhf").GetProperty("seed").GetInt32());
        // Readers get the learner's record back, and a file from before this shape is read as it was.
        Assert.Equal(7, JsonDocument.Parse(CheckpointReader.Open(dir).TrainerStateJson).RootElement.GetProperty("seed").GetInt32());
        Assert.Equal("""{"Step": 5, "Seed": 1}""", TrainerStateFile.ProjectState("""{"Step": 5, "Seed": 1}"""));
    }

    [Fact]
    public void A_generation_config_json_that_travels_with_the_tokenizer_is_kept_as_it_was()
    {
        var dir = Path.Combine(_root.Path, "runs", "x", "step-2");
        var own = """{"eos_token_id": [128001, 128009], "temperature": 0.6}"""u8.ToArray();
        CheckpointWriter.Write(dir, TinyModel.Config, TinyModel.Weights(), Optimizer(), "{}", 2, Provenance,
            extraFiles: new Dictionary<string, byte[]> { ["generation_config.json"] = own });
        Assert.Equal(own, File.ReadAllBytes(Path.Combine(dir, "generation_config.json")));
    }

    [Fact]
    public void Overwriting_a_checkpoint_replaces_it_whole_and_cleans_up_the_old_one()
    {
        WriteOne("step-5", step: 5, seed: 1);
        var dir = WriteOne("step-5", step: 6, seed: 2);

        var loaded = CheckpointReader.Open(dir);
        Assert.Equal(6, loaded.Step);
        TinyModel.AssertSameTensors(TinyModel.Weights(2), loaded.Weights);
        Assert.Single(Directory.GetFileSystemEntries(Path.GetDirectoryName(dir)!));
    }

    [Fact]
    public void One_flipped_byte_in_the_weights_is_refused_naming_the_file_and_sha256()
    {
        var dir = WriteOne("step-100");
        var weightsPath = Path.Combine(dir, "model.safetensors");
        var bytes = File.ReadAllBytes(weightsPath);
        bytes[^3] ^= 0x01;
        File.WriteAllBytes(weightsPath, bytes);

        var e = Assert.Throws<InvalidDataException>(() => CheckpointReader.Open(dir));
        Assert.Contains("model.safetensors", e.Message);
        Assert.Contains("SHA-256", e.Message);
        Assert.Contains(dir, e.Message);
        Assert.Contains("refusing to load", e.Message);
    }

    [Fact]
    public void Truncated_file_is_refused_on_its_size()
    {
        var dir = WriteOne("step-100");
        var path = Path.Combine(dir, "optimizer.safetensors");
        File.WriteAllBytes(path, File.ReadAllBytes(path)[..^4]);

        var e = Assert.Throws<InvalidDataException>(() => CheckpointReader.Verify(dir));
        Assert.Contains("optimizer.safetensors", e.Message);
        Assert.Contains("bytes", e.Message);
    }

    [Fact]
    public void Deleted_file_is_refused_naming_it()
    {
        var dir = WriteOne("step-100");
        File.Delete(Path.Combine(dir, "trainer_state.json"));

        var e = Assert.Throws<InvalidDataException>(() => CheckpointReader.Open(dir));
        Assert.Contains("trainer_state.json", e.Message);
        Assert.Contains("missing", e.Message);
    }

    [Fact]
    public void Missing_or_unparseable_manifest_is_refused()
    {
        var dir = WriteOne("step-100");
        var manifest = Path.Combine(dir, "manifest.json");
        File.WriteAllText(manifest, "{ broken");
        var bad = Assert.Throws<InvalidDataException>(() => CheckpointReader.Open(dir));
        Assert.Contains("manifest.json", bad.Message);

        File.Delete(manifest);
        var missing = Assert.Throws<InvalidDataException>(() => CheckpointReader.Open(dir));
        Assert.Contains("manifest.json is missing", missing.Message);
    }

    [Fact]
    public void Manifest_that_drops_a_required_file_is_refused()
    {
        var dir = WriteOne("step-100");
        var manifestPath = Path.Combine(dir, "manifest.json");
        var manifest = CheckpointManifest.Parse(File.ReadAllText(manifestPath), dir);
        var without = manifest with { Files = manifest.Files.Where(kv => kv.Key != "optimizer.safetensors").ToDictionary() };
        File.WriteAllText(manifestPath, without.ToJson());

        var e = Assert.Throws<InvalidDataException>(() => CheckpointReader.Verify(dir));
        Assert.Contains("optimizer.safetensors", e.Message);
    }

    [Fact]
    public void Failed_write_leaves_neither_target_nor_temporary_folder()
    {
        var dir = Path.Combine(_root.Path, "runs", "y", "step-1");
        Assert.Throws<ArgumentException>(() => CheckpointWriter.Write(dir, TinyModel.Config, TinyModel.Weights(), Optimizer(),
            "not json", 1, Provenance));
        var dup = TinyModel.Weights().Concat(TinyModel.Weights().Take(1)).ToArray();
        Assert.Throws<ArgumentException>(() => CheckpointWriter.Write(dir, TinyModel.Config, dup, Optimizer(), "{}", 1, Provenance));

        var parent = Path.GetDirectoryName(dir)!;
        Assert.Empty(Directory.Exists(parent) ? Directory.GetFileSystemEntries(parent) : Array.Empty<string>());
    }

    [Fact]
    public void Manifest_lists_exactly_the_written_files()
    {
        var dir = WriteOne("step-1");
        var loaded = CheckpointReader.Open(dir);
        Assert.Equal(Directory.GetFiles(dir).Select(Path.GetFileName).Where(n => n != "manifest.json").Order(),
            loaded.Manifest.Files.Keys.Order());
    }

    [Fact]
    public void Sharded_weights_are_listed_verified_and_loaded()
    {
        var dir = Path.Combine(_root.Path, "sharded");
        CheckpointWriter.Write(dir, TinyModel.Config, TinyModel.Weights(), Optimizer(), "{}", 3, Provenance, maxShardBytes: 300);
        var loaded = CheckpointReader.Open(dir);
        var shards = loaded.Manifest.Files.Keys.Where(k => k.StartsWith("model-")).Order().ToArray();
        Assert.True(shards.Length >= 3);
        Assert.Contains("model.safetensors.index.json", loaded.Manifest.Files.Keys);
        TinyModel.AssertSameTensors(TinyModel.Weights(), loaded.Weights);

        var shard = Path.Combine(dir, shards[1]);
        var bytes = File.ReadAllBytes(shard);
        bytes[^1] ^= 0x80;
        File.WriteAllBytes(shard, bytes);
        var e = Assert.Throws<InvalidDataException>(() => CheckpointReader.Open(dir));
        Assert.Contains(shards[1], e.Message);
        Assert.Contains("SHA-256", e.Message);
    }
}
