using System.Buffers.Binary;
using System.Text.Json;
using System.Text.Json.Nodes;
using RlhfActors.Tests.IO;
using RlhfActors.Training.IO;
using RlhfActors.Training.Peft;
using RlhfActors.Training.Weights;

namespace RlhfActors.Tests.Peft;

public sealed class PeftAdapterFolderTests
{
    const int Rank = 4;

    static readonly LoraSettings Settings = new() { Rank = Rank, Alpha = 8, Dropout = 0.05, TargetModules = ["q_proj", "v_proj"] };

    /// <summary>F32 little-endian tensor with distinct values.</summary>
    static TensorBytes F32(string name, long rows, long cols, float start = 0)
    {
        var data = new byte[rows * cols * 4];
        for (var i = 0; i < rows * cols; i++)
            BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(i * 4), start + i * 0.25f);
        return new TensorBytes(name, "F32", [rows, cols], data);
    }

    /// <summary>q_proj (8 → 8) and v_proj (8 → 4) adapters on two layers.</summary>
    static List<TensorBytes> Tensors(string prefix = "", string adapterName = "")
    {
        var list = new List<TensorBytes>();
        var start = 0f;
        for (var layer = 0; layer < 2; layer++)
            foreach (var (module, outDim) in new[] { ("q_proj", 8L), ("v_proj", 4L) })
            {
                var path = $"{prefix}model.layers.{layer}.self_attn.{module}";
                list.Add(F32($"{path}.lora_A{adapterName}.weight", Rank, 8, start += 100));
                list.Add(F32($"{path}.lora_B{adapterName}.weight", outDim, Rank, start += 100));
            }
        return list;
    }

    static PeftAdapter Adapter(string? baseModel = "Qwen/Qwen2-0.5B") => new(Settings, Tensors(), baseModel);

    static void AssertSameTensors(IReadOnlyList<TensorBytes> expected, IReadOnlyList<TensorBytes> actual)
    {
        Assert.Equal(expected.Select(t => t.Name), actual.Select(t => t.Name));
        for (var i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].DType, actual[i].DType);
            Assert.Equal(expected[i].Shape, actual[i].Shape);
            Assert.Equal(expected[i].Data, actual[i].Data);
        }
    }

    // ------------------------------------------------------------------------------------------ round trip

    [Fact]
    public void PeftAdapter_write_then_read_round_trips_settings_names_and_bytes()
    {
        using var dir = new TempDirectory();
        var folder = Path.Combine(dir.Path, "nested", "adapter");
        var adapter = Adapter();

        PeftAdapterFolder.Write(folder, adapter);
        var loaded = PeftAdapterFolder.Read(folder);

        Assert.Equal(new[] { "adapter_config.json", "adapter_model.safetensors" }, Directory.GetFiles(folder).Select(Path.GetFileName).Order());
        Assert.Equal(Settings.Rank, loaded.Settings.Rank);
        Assert.Equal(Settings.Alpha, loaded.Settings.Alpha);
        Assert.Equal(Settings.Dropout, loaded.Settings.Dropout);
        Assert.Equal(Settings.TargetModules, loaded.Settings.TargetModules);
        Assert.False(loaded.Settings.QuantizeBase);
        Assert.Equal("Qwen/Qwen2-0.5B", loaded.BaseModelNameOrPath);
        AssertSameTensors(adapter.Tensors, loaded.Tensors);

        var weightsPath = Path.Combine(folder, "adapter_model.safetensors");
        Assert.Equal(adapter.Tensors.Select(t => "base_model.model." + t.Name), SafeTensorsFile.ReadNames(weightsPath));
        Assert.Contains("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", SafeTensorsFile.ReadNames(weightsPath));
        Assert.Equal("pt", SafeTensorsFile.Read(weightsPath).Metadata["format"]);
    }

    [Fact]
    public void PeftAdapter_config_has_the_LoraConfig_fields()
    {
        using var dir = new TempDirectory();
        PeftAdapterFolder.Write(dir.Path, Adapter());

        using var doc = JsonDocument.Parse(File.ReadAllText(dir.File("adapter_config.json")));
        var c = doc.RootElement;
        Assert.Equal("LORA", c.GetProperty("peft_type").GetString());
        Assert.Equal("CAUSAL_LM", c.GetProperty("task_type").GetString());
        Assert.Equal(4, c.GetProperty("r").GetInt32());
        Assert.Equal(8, c.GetProperty("lora_alpha").GetInt32()); // an int, like LoraConfig's
        Assert.Equal(0.05, c.GetProperty("lora_dropout").GetDouble());
        Assert.Equal(new[] { "q_proj", "v_proj" }, c.GetProperty("target_modules").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("none", c.GetProperty("bias").GetString());
        Assert.Equal("Qwen/Qwen2-0.5B", c.GetProperty("base_model_name_or_path").GetString());
        Assert.False(c.GetProperty("fan_in_fan_out").GetBoolean());
        Assert.True(c.GetProperty("inference_mode").GetBoolean());
        Assert.True(c.GetProperty("init_lora_weights").GetBoolean());
        Assert.Equal(JsonValueKind.Null, c.GetProperty("modules_to_save").ValueKind);
        Assert.False(c.GetProperty("use_rslora").GetBoolean());
        Assert.False(c.GetProperty("use_dora").GetBoolean());
        Assert.Equal(JsonValueKind.Null, c.GetProperty("layers_to_transform").ValueKind);
        Assert.Equal(JsonValueKind.Null, c.GetProperty("revision").ValueKind);
        Assert.Empty(c.GetProperty("rank_pattern").EnumerateObject());
        Assert.Empty(c.GetProperty("alpha_pattern").EnumerateObject());
    }

    [Fact]
    public void PeftAdapter_null_base_model_and_zero_dropout_round_trip_and_QuantizeBase_is_not_stored()
    {
        using var dir = new TempDirectory();
        var settings = Settings with { Dropout = 0, Alpha = 6.5, QuantizeBase = true };
        PeftAdapterFolder.Write(dir.Path, new PeftAdapter(settings, Tensors(), null));

        var text = File.ReadAllText(dir.File("adapter_config.json"));
        Assert.Contains("\"lora_dropout\": 0.0", text);
        using (var doc = JsonDocument.Parse(text))
            Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("base_model_name_or_path").ValueKind);
        var loaded = PeftAdapterFolder.Read(dir.Path);
        Assert.Null(loaded.BaseModelNameOrPath);
        Assert.Equal(0, loaded.Settings.Dropout);
        Assert.Equal(6.5, loaded.Settings.Alpha);
        Assert.False(loaded.Settings.QuantizeBase); // the base's quantisation is not part of a PEFT adapter
    }

    [Fact]
    public void PeftAdapter_key_mapping_goes_both_ways()
    {
        const string ours = "model.layers.0.self_attn.q_proj.lora_A.weight";
        Assert.Equal("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", PeftAdapterFolder.ToPeftKey(ours));
        Assert.Equal(ours, PeftAdapterFolder.FromPeftKey(PeftAdapterFolder.ToPeftKey(ours)));
        Assert.Equal(ours, PeftAdapterFolder.FromPeftKey("base_model.model.model.layers.0.self_attn.q_proj.lora_A.default.weight"));
        Assert.Equal("model.layers.0.mlp.up_proj.lora_B.weight", PeftAdapterFolder.FromPeftKey("base_model.model.model.layers.0.mlp.up_proj.lora_B.default.weight"));
        Assert.Null(PeftAdapterFolder.FromPeftKey(ours));
    }

    // ------------------------------------------------------------------------------------ PEFT's real files

    const string RealPeftConfig = """
        {
          "alpha_pattern": {},
          "auto_mapping": null,
          "base_model_name_or_path": "meta-llama/Llama-3.2-1B",
          "bias": "none",
          "fan_in_fan_out": false,
          "inference_mode": true,
          "init_lora_weights": true,
          "layer_replication": null,
          "layers_pattern": null,
          "layers_to_transform": null,
          "loftq_config": {},
          "lora_alpha": 8,
          "lora_dropout": 0.0,
          "megatron_config": null,
          "megatron_core": "megatron.core",
          "modules_to_save": null,
          "peft_type": "LORA",
          "r": 4,
          "rank_pattern": {},
          "revision": null,
          "target_modules": [
            "v_proj",
            "q_proj"
          ],
          "task_type": "CAUSAL_LM",
          "use_dora": false,
          "use_rslora": false
        }
        """;

    [Fact]
    public void PeftAdapter_reads_a_hand_written_PEFT_folder_with_default_adapter_name_in_keys()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("adapter_config.json"), RealPeftConfig);
        SafeTensorsFile.Write(dir.File("adapter_model.safetensors"), Tensors("base_model.model.", ".default"),
            new Dictionary<string, string> { ["format"] = "pt" });

        var loaded = PeftAdapterFolder.Read(dir.Path);

        Assert.Equal(4, loaded.Settings.Rank);
        Assert.Equal(8, loaded.Settings.Alpha);
        Assert.Equal(0, loaded.Settings.Dropout);
        Assert.Equal(new[] { "v_proj", "q_proj" }, loaded.Settings.TargetModules);
        Assert.Equal("meta-llama/Llama-3.2-1B", loaded.BaseModelNameOrPath);
        AssertSameTensors(Tensors(), loaded.Tensors);
    }

    [Fact]
    public void PeftAdapter_accepts_all_linear_target_modules()
    {
        using var dir = new TempDirectory();
        PeftAdapterFolder.Write(dir.Path, Adapter());
        EditConfig(dir.Path, c => c["target_modules"] = "all-linear");

        Assert.Equal(LoraSettings.AllLinear, PeftAdapterFolder.Read(dir.Path).Settings.TargetModules);
    }

    // ----------------------------------------------------------------------------------------- read errors

    static void EditConfig(string folder, Action<JsonObject> edit)
    {
        var path = Path.Combine(folder, "adapter_config.json");
        var node = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        edit(node);
        File.WriteAllText(path, node.ToJsonString());
    }

    static InvalidDataException ReadFails(string folder) =>
        Assert.Throws<InvalidDataException>(() => PeftAdapterFolder.Read(folder));

    [Theory]
    [InlineData("peft_type", "\"PREFIX_TUNING\"", "LORA")]
    [InlineData("peft_type", null, "missing")]
    [InlineData("r", null, "missing")]
    [InlineData("r", "0", "positive")]
    [InlineData("r", "-2", "positive")]
    [InlineData("lora_alpha", null, "missing")]
    [InlineData("lora_alpha", "0", "positive")]
    [InlineData("lora_alpha", "-1.5", "positive")]
    [InlineData("use_dora", "true", "not supported")]
    [InlineData("use_rslora", "true", "not supported")]
    [InlineData("bias", "\"lora_only\"", "none")]
    [InlineData("modules_to_save", "[\"lm_head\"]", "not supported")]
    [InlineData("target_modules", "\".*(q|v)_proj\"", "regular expression")]
    [InlineData("target_modules", null, "missing")]
    [InlineData("rank_pattern", "{\"q_proj\": 8}", "not supported")]
    public void PeftAdapter_read_rejects_bad_config_naming_file_and_field(string field, string? json, string expected)
    {
        using var dir = new TempDirectory();
        PeftAdapterFolder.Write(dir.Path, Adapter());
        EditConfig(dir.Path, c =>
        {
            if (json is null) c.Remove(field);
            else c[field] = JsonNode.Parse(json);
        });

        var e = ReadFails(dir.Path);
        Assert.Contains("adapter_config.json", e.Message);
        Assert.Contains($"'{field}'", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void PeftAdapter_read_accepts_empty_modules_to_save_and_missing_bias()
    {
        using var dir = new TempDirectory();
        PeftAdapterFolder.Write(dir.Path, Adapter());
        EditConfig(dir.Path, c => { c["modules_to_save"] = new JsonArray(); c.Remove("bias"); });

        Assert.Equal(8, PeftAdapterFolder.Read(dir.Path).Tensors.Count);
    }

    [Fact]
    public void PeftAdapter_read_names_missing_folder_and_files()
    {
        using var dir = new TempDirectory();
        var missing = Path.Combine(dir.Path, "nope");
        Assert.Contains(missing, ReadFails(missing).Message);

        var e = ReadFails(dir.Path);
        Assert.Contains("adapter_config.json", e.Message);

        File.WriteAllText(dir.File("adapter_config.json"), RealPeftConfig);
        e = ReadFails(dir.Path);
        Assert.Contains("adapter_model.safetensors", e.Message);
        Assert.DoesNotContain("pickle", e.Message);

        File.WriteAllBytes(dir.File("adapter_model.bin"), [0x80, 0x02]);
        e = ReadFails(dir.Path);
        Assert.Contains("adapter_model.bin", e.Message);
        Assert.Contains("pickle adapters are not supported, convert to safetensors", e.Message);
    }

    /// <summary>A valid folder whose safetensors file is then replaced by <paramref name="fileTensors"/> (PEFT keys).</summary>
    static InvalidDataException ReadFailsWithWeights(TempDirectory dir, IEnumerable<TensorBytes> fileTensors)
    {
        PeftAdapterFolder.Write(dir.Path, Adapter());
        SafeTensorsFile.Write(dir.File("adapter_model.safetensors"), fileTensors);
        var e = ReadFails(dir.Path);
        Assert.Contains("adapter_model.safetensors", e.Message);
        return e;
    }

    static List<TensorBytes> FileTensors() => Tensors("base_model.model.");

    [Fact]
    public void PeftAdapter_read_rejects_keys_without_the_PEFT_prefix()
    {
        using var dir = new TempDirectory();
        var e = ReadFailsWithWeights(dir, Tensors());
        Assert.Contains("'model.layers.0.self_attn.q_proj.lora_A.weight'", e.Message);
        Assert.Contains("base_model.model.", e.Message);
    }

    [Theory]
    [InlineData("base_model.model.model.embed_tokens.lora_embedding_A")]
    [InlineData("base_model.model.model.layers.0.self_attn.q_proj.lora_magnitude_vector")]
    [InlineData("base_model.model.model.layers.0.self_attn.q_proj.lora_A.other.weight")]
    [InlineData("base_model.model.lm_head.weight")]
    public void PeftAdapter_read_rejects_keys_that_are_not_lora_A_or_B_weights(string key)
    {
        using var dir = new TempDirectory();
        var e = ReadFailsWithWeights(dir, FileTensors().Append(F32(key, Rank, 8)));
        Assert.Contains($"'{key}'", e.Message);
        Assert.Contains("lora_A / lora_B", e.Message);
    }

    [Fact]
    public void PeftAdapter_read_rejects_A_and_B_shapes_that_disagree_with_r()
    {
        using var dir = new TempDirectory();
        var tensors = FileTensors();
        var aIndex = tensors.FindIndex(t => t.Name.EndsWith("layers.1.self_attn.v_proj.lora_A.weight"));
        tensors[aIndex] = F32(tensors[aIndex].Name, Rank + 1, 8);
        var e = ReadFailsWithWeights(dir, tensors);
        Assert.Contains("'base_model.model.model.layers.1.self_attn.v_proj.lora_A.weight'", e.Message);
        Assert.Contains("r = 4", e.Message);

        tensors = FileTensors();
        var bIndex = tensors.FindIndex(t => t.Name.EndsWith("layers.0.self_attn.q_proj.lora_B.weight"));
        tensors[bIndex] = F32(tensors[bIndex].Name, 8, Rank * 2);
        e = ReadFailsWithWeights(dir, tensors);
        Assert.Contains("'base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight'", e.Message);
        Assert.Contains("r = 4", e.Message);
    }

    [Fact]
    public void PeftAdapter_read_rejects_a_module_not_in_target_modules()
    {
        using var dir = new TempDirectory();
        var tensors = FileTensors();
        tensors.Add(F32("base_model.model.model.layers.0.self_attn.k_proj.lora_A.weight", Rank, 8));
        tensors.Add(F32("base_model.model.model.layers.0.self_attn.k_proj.lora_B.weight", 4, Rank));
        var e = ReadFailsWithWeights(dir, tensors);
        Assert.Contains("'base_model.model.model.layers.0.self_attn.k_proj.lora_A.weight'", e.Message);
        Assert.Contains("k_proj", e.Message);
        Assert.Contains("target_modules", e.Message);
    }

    [Fact]
    public void PeftAdapter_read_rejects_an_unpaired_A()
    {
        using var dir = new TempDirectory();
        var tensors = FileTensors().Where(t => !t.Name.EndsWith("layers.1.self_attn.q_proj.lora_B.weight")).ToList();
        var e = ReadFailsWithWeights(dir, tensors);
        Assert.Contains("'base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight'", e.Message);
        Assert.Contains("lora_B", e.Message);
    }

    // ---------------------------------------------------------------------------------------- write errors

    [Fact]
    public void PeftAdapter_write_with_a_missing_lora_B_throws_and_writes_nothing()
    {
        using var dir = new TempDirectory();
        var tensors = Tensors().Where(t => t.Name != "model.layers.1.self_attn.v_proj.lora_B.weight").ToList();
        var adapter = new PeftAdapter(Settings, tensors, null);

        var e = Assert.Throws<ArgumentException>(() => PeftAdapterFolder.Write(dir.Path, adapter));
        Assert.Contains("'model.layers.1.self_attn.v_proj.lora_A.weight'", e.Message);
        Assert.Contains("lora_B", e.Message);
        Assert.Empty(Directory.EnumerateFileSystemEntries(dir.Path));

        var fresh = Path.Combine(dir.Path, "fresh");
        Assert.Throws<ArgumentException>(() => PeftAdapterFolder.Write(fresh, adapter));
        Assert.False(Directory.Exists(fresh));
    }

    static List<TensorBytes> Corrupt(string problem)
    {
        var t = Tensors();
        switch (problem)
        {
            case "not a lora name": t.Add(F32("model.layers.0.self_attn.q_proj.weight", 8, 8)); break;
            case "module not targeted":
                t.Add(F32("model.layers.0.self_attn.k_proj.lora_A.weight", Rank, 8));
                t.Add(F32("model.layers.0.self_attn.k_proj.lora_B.weight", 8, Rank));
                break;
            case "A rows != r": t = t.Select(x => x.Name == "model.layers.0.self_attn.q_proj.lora_A.weight" ? F32(x.Name, Rank + 1, 8) : x).ToList(); break;
            case "B cols != r": t = t.Select(x => x.Name == "model.layers.0.self_attn.v_proj.lora_B.weight" ? F32(x.Name, 4, Rank - 1) : x).ToList(); break;
            case "B without A": t.RemoveAll(x => x.Name == "model.layers.1.self_attn.q_proj.lora_A.weight"); break;
            default: throw new ArgumentOutOfRangeException(nameof(problem));
        }
        return t;
    }

    [Theory]
    [InlineData("not a lora name", "model.layers.0.self_attn.q_proj.weight")]
    [InlineData("module not targeted", "model.layers.0.self_attn.k_proj.lora_A.weight")]
    [InlineData("A rows != r", "model.layers.0.self_attn.q_proj.lora_A.weight")]
    [InlineData("B cols != r", "model.layers.0.self_attn.v_proj.lora_B.weight")]
    [InlineData("B without A", "model.layers.1.self_attn.q_proj.lora_B.weight")]
    public void PeftAdapter_write_rejects_invalid_tensors_naming_them(string problem, string badName)
    {
        using var dir = new TempDirectory();
        var adapter = new PeftAdapter(Settings, Corrupt(problem), null);

        var e = Assert.Throws<ArgumentException>(() => PeftAdapterFolder.Write(dir.Path, adapter));
        Assert.Contains($"'{badName}'", e.Message);
        Assert.Empty(Directory.EnumerateFileSystemEntries(dir.Path));
    }
}
