using System.Text.Json;
using RlhfActors.Abstractions.Config;
using RlhfActors.Client.Config;

namespace RlhfActors.Tests.Cli;

public sealed class ConfigLoaderTests : IDisposable
{
    readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    string Output => System.IO.Path.Combine(_folder.Path, "out");

    [Fact]
    public void The_tiny_config_parses_to_the_expected_record()
    {
        var file = _folder.Write("tiny.yaml", TinyYaml.Text(Output));
        var config = ExperimentYamlLoader.Load(file);

        Assert.Equal("tiny-cli", config.Name);
        Assert.Equal(Algorithm.Sft, config.Algorithm);
        Assert.Equal(4, config.Seed);
        Assert.Equal(new ModelSection { Init = "scratch", DType = ModelDType.Fp32, Tokenizer = "char", ConfigJson = config.Model.ConfigJson }, config.Model);
        Assert.Equal("reverse", config.Data.Task);
        Assert.Equal(new Dictionary<string, int> { ["length"] = 3 }, config.Data.TaskParameters);
        Assert.Equal((2000, 20), (config.Data.TrainExamples, config.Data.EvalExamples));
        Assert.Null(config.Data.TrainFile);
        Assert.Equal(new SftSection
        {
            Steps = 30, BatchSize = 16, LearningRate = 0.01, WarmupSteps = 3, MinLearningRateRatio = 0.1,
            WeightDecay = 0.1, MaxGradNorm = 1.0, CompletionOnlyLoss = true,
        }, config.Sft);
        Assert.Equal(new EvalSection { Every = 15, MaxNewTokens = 5 }, config.Eval);
        Assert.Equal(0, config.Checkpoint.Every);
        Assert.Equal(Output, config.OutputDir);
        Assert.Equal(file, config.SourceFile);

        // model.config became JSON with YAML's scalar types: numbers are numbers, booleans booleans.
        using var json = JsonDocument.Parse(config.Model.ConfigJson!);
        var root = json.RootElement;
        Assert.Equal("llama", root.GetProperty("model_type").GetString());
        Assert.Equal(32, root.GetProperty("hidden_size").GetInt32());
        Assert.Equal(10000, root.GetProperty("rope_theta").GetDouble());
        Assert.Equal(JsonValueKind.True, root.GetProperty("tie_word_embeddings").ValueKind);
        Assert.False(root.TryGetProperty("vocab_size", out _));
    }

    [Fact]
    public void The_shipped_example_config_is_valid()
    {
        var file = FindRepoFile("experiments/sft-arithmetic.yaml");
        var config = ExperimentYamlLoader.Load(file);
        Assert.Equal("sft-arithmetic", config.Name);
        Assert.Equal("addition", config.Data.Task);
        Assert.Equal(3, config.Data.TaskParameters["digits"]);
        Assert.True(config.Eval.Every > 0);
        Assert.True(Path.IsPathFullyQualified(config.OutputDir));
    }

    [Fact]
    public void Omitted_fields_take_defaults_and_output_dir_defaults_to_runs_name()
    {
        var file = _folder.Write("minimal.yaml", """
            name: minimal
            model:
              init: scratch
              config: { hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 2 }
            data:
              task: addition
            """);
        var config = ExperimentYamlLoader.Load(file);

        Assert.Equal(new SftSection(), config.Sft);
        Assert.Equal(ModelDType.Fp32, config.Model.DType);
        Assert.Equal("char", config.Model.ResolvedTokenizer);
        Assert.Equal(Path.GetFullPath(Path.Combine("runs", "minimal")), config.OutputDir);
    }

    [Fact]
    public void Relative_paths_resolve_against_the_current_directory()
    {
        var train = _folder.Write("train.jsonl", """{"prompt": "a", "completion": "b"}""");
        var relative = Path.GetRelativePath(Environment.CurrentDirectory, train);
        Assert.False(Path.IsPathRooted(relative));
        var text = TinyYaml.With(TinyYaml.Text(Output), "  task: reverse", $"  train_file: {relative}");
        text = TinyYaml.With(text, "  task_parameters: { length: 3 }", "");
        var config = ExperimentYamlLoader.Load(_folder.Write("files.yaml", text));

        Assert.Equal(train, config.Data.TrainFile);
        Assert.Null(config.Data.Task);
    }

    [Fact]
    public void A_scratch_model_config_is_checked_with_the_model_codes_rules()
    {
        var text = TinyYaml.With(TinyYaml.Text(Output), "    num_attention_heads: 4", "    num_attention_heads: 3");
        var error = Assert.Throws<ConfigLoadException>(() => ExperimentYamlLoader.Load(_folder.Write("heads.yaml", text)));
        Assert.Contains($":{TinyYaml.LineOf(text, "    num_attention_heads: 3")}: model.config.num_attention_heads must divide hidden_size", error.Message);
    }

    [Fact]
    public void Every_error_is_reported_at_once()
    {
        var text = TinyYaml.With(TinyYaml.Text(Output), "  batch_size: 16", "  batch_size: 0");
        text = TinyYaml.With(text, "  every: 15", "  every: -1");
        var error = Assert.Throws<ConfigLoadException>(() => ExperimentYamlLoader.Load(_folder.Write("two.yaml", text)));
        Assert.Equal(2, error.Errors.Count);
        Assert.Contains(error.Errors, e => e.Contains("sft.batch_size must be > 0 (got 0)"));
        Assert.Contains(error.Errors, e => e.Contains("eval.every must be >= 0"));
    }

    internal static string FindRepoFile(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, relative);
            if (File.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException($"{relative} not found above {AppContext.BaseDirectory}");
    }
}
