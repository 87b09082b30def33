using System.Text.Json;
using RlhfActors.Training.IO;

namespace RlhfActors.Tests.IO;

public sealed class HfModelFolderTests
{
    [Fact]
    public void Single_file_save_load_round_trips_config_weights_and_format_metadata()
    {
        using var dir = new TempDirectory();
        var folder = Path.Combine(dir.Path, "nested", "model");
        var weights = TinyModel.Weights();

        HfModelFolder.Save(folder, TinyModel.Config, weights);
        var loaded = HfModelFolder.Load(folder);

        Assert.Equal(new[] { "config.json", "model.safetensors" }, Directory.GetFiles(folder).Select(Path.GetFileName).Order());
        Assert.Equal(TinyModel.Config.HiddenSize, loaded.Config.HiddenSize);
        Assert.Equal(TinyModel.Config.VocabSize, loaded.Config.VocabSize);
        Assert.Equal(weights.Select(w => w.Name), loaded.Weights.Select(w => w.Name));
        TinyModel.AssertSameTensors(weights, loaded.Weights);
        Assert.Equal("pt", SafeTensorsFile.Read(Path.Combine(folder, "model.safetensors")).Metadata["format"]);
    }

    /// <summary>A Llama-3.1-style config.json: fields this project does not read are written back as they were, and
    /// torch_dtype says what the saved weights are (here fp32, though the original said bfloat16).</summary>
    [Fact]
    public void A_save_keeps_the_fields_it_does_not_read_and_names_the_weights_dtype()
    {
        using var dir = new TempDirectory();
        const string original = """
            {"model_type": "llama", "vocab_size": 16, "hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 1,
             "num_attention_heads": 2, "torch_dtype": "bfloat16", "initializer_range": 0.02, "attention_dropout": 0.0,
             "pretraining_tp": 1, "transformers_version": "4.43.0.dev0",
             "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}}
            """;
        var config = Training.Model.ModelConfig.Parse(original, "config.json");
        // The weights as a learner saves them after training a bf16 model in fp32.
        var fp32 = TinyModel.Weights().Select(w => new Training.Weights.TensorBytes(w.Name, "F32", w.Shape, new byte[w.Shape.Aggregate(4L, (a, b) => a * b)])).ToArray();
        HfModelFolder.Save(dir.Path, config, fp32);

        using var saved = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir.Path, "config.json")));
        var root = saved.RootElement;
        Assert.Equal(0.02, root.GetProperty("initializer_range").GetDouble());
        Assert.Equal(0.0, root.GetProperty("attention_dropout").GetDouble());
        Assert.Equal(1, root.GetProperty("pretraining_tp").GetInt32());
        Assert.Equal("4.43.0.dev0", root.GetProperty("transformers_version").GetString());
        Assert.Equal("llama3", root.GetProperty("rope_scaling").GetProperty("rope_type").GetString());
        Assert.Equal("float32", root.GetProperty("torch_dtype").GetString());
    }

    [Fact]
    public void Sharded_save_writes_index_and_shards_under_the_limit_and_loads_back()
    {
        using var dir = new TempDirectory();
        var weights = TinyModel.Weights();
        const long limit = 300; // embed (256 B) fits alone; q_proj (128 B) must start a new shard.

        HfModelFolder.Save(dir.Path, TinyModel.Config, weights, maxShardBytes: limit);

        var shards = Directory.GetFiles(dir.Path, "model-*-of-*.safetensors").Select(Path.GetFileName).Order().ToArray();
        Assert.True(shards.Length >= 3, $"expected several shards, got {shards.Length}");
        Assert.Equal($"model-00001-of-{shards.Length:D5}.safetensors", shards[0]);
        Assert.False(File.Exists(Path.Combine(dir.Path, "model.safetensors")));
        foreach (var shard in shards)
        {
            var tensors = SafeTensorsFile.Read(Path.Combine(dir.Path, shard!)).Tensors;
            Assert.True(tensors.Count == 1 || tensors.Sum(t => t.Data.Length) <= limit);
        }
        using var index = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir.Path, "model.safetensors.index.json")));
        Assert.Equal(weights.Sum(w => w.Data.Length), index.RootElement.GetProperty("metadata").GetProperty("total_size").GetInt64());
        Assert.Equal(weights.Count, index.RootElement.GetProperty("weight_map").EnumerateObject().Count());

        TinyModel.AssertSameTensors(weights, HfModelFolder.Load(dir.Path).Weights);
    }

    [Fact]
    public void Saving_single_over_sharded_removes_the_stale_shards()
    {
        using var dir = new TempDirectory();
        HfModelFolder.Save(dir.Path, TinyModel.Config, TinyModel.Weights(1), maxShardBytes: 300);
        var fresh = TinyModel.Weights(2);
        HfModelFolder.Save(dir.Path, TinyModel.Config, fresh);

        Assert.Empty(Directory.GetFiles(dir.Path, "model-*"));
        Assert.False(File.Exists(Path.Combine(dir.Path, "model.safetensors.index.json")));
        TinyModel.AssertSameTensors(fresh, HfModelFolder.Load(dir.Path).Weights);
    }

    [Fact]
    public void Index_naming_a_tensor_its_shard_lacks_is_rejected()
    {
        using var dir = new TempDirectory();
        HfModelFolder.Save(dir.Path, TinyModel.Config, TinyModel.Weights(), maxShardBytes: 300);
        var indexPath = Path.Combine(dir.Path, "model.safetensors.index.json");
        var text = File.ReadAllText(indexPath).Replace("\"lm_head.weight\"", "\"lm_head.ghost\"");
        File.WriteAllText(indexPath, text);

        var e = Assert.Throws<InvalidDataException>(() => HfModelFolder.Load(dir.Path));
        Assert.Contains("lm_head.ghost", e.Message);
        Assert.Contains(indexPath, e.Message);
    }

    [Fact]
    public void Index_shard_outside_the_folder_is_rejected()
    {
        using var dir = new TempDirectory();
        HfModelFolder.Save(dir.Path, TinyModel.Config, TinyModel.Weights(), maxShardBytes: 300);
        File.WriteAllText(Path.Combine(dir.Path, "model.safetensors.index.json"),
            """{"weight_map": {"model.norm.weight": "../elsewhere.safetensors"}}""");

        var e = Assert.Throws<InvalidDataException>(() => HfModelFolder.Load(dir.Path));
        Assert.Contains("not a plain file name", e.Message);
    }

    [Fact]
    public void Pickled_only_folder_is_refused_with_a_pointer_to_safetensors()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("config.json"), TinyModel.Config.ToJson());
        File.WriteAllBytes(dir.File("pytorch_model.bin"), new byte[] { 0x80, 0x02 });

        var e = Assert.Throws<InvalidDataException>(() => HfModelFolder.Load(dir.Path));
        Assert.Contains("pytorch_model.bin", e.Message);
        Assert.Contains("arbitrary code", e.Message);
        Assert.Contains("safetensors", e.Message);
    }

    [Fact]
    public void Folder_without_weights_or_config_says_what_is_missing()
    {
        using var dir = new TempDirectory();
        var noConfig = Assert.Throws<FileNotFoundException>(() => HfModelFolder.Load(dir.Path));
        Assert.Contains("config.json", noConfig.Message);

        File.WriteAllText(dir.File("config.json"), TinyModel.Config.ToJson());
        var noWeights = Assert.Throws<FileNotFoundException>(() => HfModelFolder.Load(dir.Path));
        Assert.Contains("model.safetensors", noWeights.Message);
    }
}
