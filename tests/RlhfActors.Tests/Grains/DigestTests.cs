using System.Collections.Immutable;
using System.Reflection;
using System.Text.Json;
using RlhfActors.Abstractions.Config;
using RlhfActors.Grains.Specs;
using RlhfActors.Training.Data;

namespace RlhfActors.Tests.Grains;

public sealed class DigestTests
{
    [Fact]
    public void The_config_hash_ignores_where_output_goes_and_sees_every_setting()
    {
        var a = TinyExperiment.Create("digest");
        var sameSettings = a with { OutputDir = "/elsewhere", SourceFile = "/some/file.yaml" };
        var otherLr = a with { Sft = a.Sft with { LearningRate = 0.02 } };
        var otherTask = a with { Data = a.Data with { TaskParameters = a.Data.TaskParameters.SetItem("length", 4) } };

        Assert.Equal(Digests.ConfigSha256(a), Digests.ConfigSha256(sameSettings));
        Assert.NotEqual(Digests.ConfigSha256(a), Digests.ConfigSha256(otherLr));
        Assert.NotEqual(Digests.ConfigSha256(a), Digests.ConfigSha256(otherTask));
        Assert.Matches("^[0-9a-f]{64}$", Digests.ConfigSha256(a));
    }

    /// <summary>Walks every stored field of every config record by reflection, changes it alone, and checks that the
    /// hash changes: a field added later is covered without editing this test.</summary>
    [Fact]
    public void Two_configs_that_differ_in_any_field_hash_differently()
    {
        var config = TinyExperiment.Create("digest");
        var baseline = Digests.ConfigSha256(config);
        var changed = 0;
        foreach (var (path, variant) in SingleFieldChanges(config, ""))
        {
            if (path is "output_dir" or "source_file") Assert.Equal(baseline, Digests.ConfigSha256((ExperimentConfig)variant));
            else Assert.True(baseline != Digests.ConfigSha256((ExperimentConfig)variant), $"changing {path} left the config hash unchanged");
            changed++;
        }
        Assert.True(changed > 90, $"only {changed} fields were changed; the walk missed sections");
    }

    /// <summary>(dotted path, a copy of the root with that one field changed) for every stored field under
    /// <paramref name="record"/>.</summary>
    static IEnumerable<(string Path, object Root)> SingleFieldChanges(object record, string prefix, Func<object, object>? rebuild = null)
    {
        rebuild ??= r => r;
        foreach (var property in record.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.SetMethod is null || property.Name == "EqualityContract") continue;
            var path = prefix + JsonNamingPolicy.SnakeCaseLower.ConvertName(property.Name);
            var value = property.GetValue(record);
            var type = property.PropertyType;
            if (type.Namespace == typeof(ExperimentConfig).Namespace && type.IsClass)
            {
                var p = property;
                foreach (var change in SingleFieldChanges(value!, path + ".", inner => rebuild(With(record, p, inner))))
                    yield return change;
                continue;
            }
            yield return (path, rebuild(With(record, property, Changed(property, value))));
        }
    }

    static object With(object record, PropertyInfo property, object? value)
    {
        var copy = record.GetType().GetMethod("<Clone>$")!.Invoke(record, null)!;
        property.SetValue(copy, value);
        return copy;
    }

    static object? Changed(PropertyInfo property, object? value) => value switch
    {
        _ when property.Name == nameof(ModelSection.ConfigJson) => TinyExperiment.ModelConfigJson.Replace("\"hidden_size\": 32", "\"hidden_size\": 64"),
        int i => i + 1,
        double d => d + 0.5,
        bool b => !b,
        Enum e => Enum.GetValues(e.GetType()).Cast<Enum>().First(other => !other.Equals(e)),
        string s => s + "x",
        null when property.PropertyType == typeof(string) => "x",
        null when Nullable.GetUnderlyingType(property.PropertyType) == typeof(double) => 0.25,
        null when Nullable.GetUnderlyingType(property.PropertyType) == typeof(int) => 7,
        null when Nullable.GetUnderlyingType(property.PropertyType) == typeof(bool) => true,
        null when Nullable.GetUnderlyingType(property.PropertyType) is { IsEnum: true } type => Enum.GetValues(type).GetValue(0),
        ImmutableSortedDictionary<string, int> map => map.SetItem("zz", 9),
        ImmutableSortedDictionary<string, string> map => map.SetItem("zz", "9"),
        ImmutableArray<string> list => list.Add("x"),
        ImmutableArray<RewardTerm> list => list.Add(new RewardTerm { Name = "format" }),
        ImmutableArray<WatchTask> list => list.Add(new WatchTask { Task = "addition" }),
        ImmutableArray<ReportTarget> list => list.Add(ReportTarget.Tensorboard),
        _ => throw new InvalidOperationException($"the test does not know how to change {property.DeclaringType!.Name}.{property.Name} ({property.PropertyType})"),
    };

    /// <summary>The canonical JSON names each field by its YAML key: every key written in the shipped experiment files
    /// is found at the same path in it.</summary>
    [Fact]
    public void Every_yaml_key_of_the_shipped_experiments_is_a_key_of_the_config_json()
    {
        var folder = Path.Combine(RlhfActors.Tests.Cluster.ChildProcess.Repository, "experiments");
        // A config that starts from (or distils) another shipped run's checkpoint (runs/…) gets a stand-in model folder here.
        using var runs = new RlhfActors.Tests.Data.TempDirectory();
        using (var model = RlhfActors.Tests.Model.TinyModels.Create(RlhfActors.Tests.Model.TinyModels.Llama()))
            RlhfActors.Training.IO.HfModelFolder.Save(runs.Path, model.Config, RlhfActors.Training.Model.ModelFactory.ExportWeights(model));
        foreach (var file in Directory.GetFiles(folder, "*.yaml", SearchOption.AllDirectories))
        {
            // Data paths in the shipped files are relative to the repository root, where the README runs them.
            var text = File.ReadAllText(file).Replace(" experiments/", " " + folder + "/", StringComparison.Ordinal);
            text = System.Text.RegularExpressions.Regex.Replace(text, @"(init|teacher): runs/\S+", "$1: " + runs.Path);
            var config = RlhfActors.Client.Config.ExperimentYamlLoader.Parse(text, file);
            var json = JsonDocument.Parse(Digests.ConfigToJson(config)).RootElement;
            var yaml = new YamlDotNet.RepresentationModel.YamlStream();
            yaml.Load(new StringReader(File.ReadAllText(file)));
            foreach (var path in MappingPaths((YamlDotNet.RepresentationModel.YamlMappingNode)yaml.Documents[0].RootNode, ""))
            {
                if (path is "output_dir") continue;
                var at = json;
                foreach (var key in path.Split('.'))
                    Assert.True(at.ValueKind == JsonValueKind.Object && at.TryGetProperty(key, out at), $"{Path.GetFileName(file)}: {path} is not in the config JSON");
            }
        }
    }

    static IEnumerable<string> MappingPaths(YamlDotNet.RepresentationModel.YamlMappingNode node, string prefix)
    {
        foreach (var (key, value) in node.Children)
        {
            var path = prefix + ((YamlDotNet.RepresentationModel.YamlScalarNode)key).Value;
            yield return path;
            if (value is YamlDotNet.RepresentationModel.YamlMappingNode child && path != "model.config")
                foreach (var inner in MappingPaths(child, path + ".")) yield return inner;
        }
    }

    [Fact]
    public void The_config_json_uses_the_yaml_keys_with_the_model_config_as_an_object()
    {
        using var json = JsonDocument.Parse(Digests.ConfigToJson(TinyExperiment.Create("digest")));
        var root = json.RootElement;
        Assert.Equal("fp32", root.GetProperty("model").GetProperty("dtype").GetString());
        Assert.Equal("sft", root.GetProperty("algorithm").GetString());
        Assert.Equal("dapo", root.GetProperty("grpo").GetProperty("loss_type").GetString());
        Assert.Equal("truncated_is", JsonDocument.Parse(Digests.ConfigToJson(TinyExperiment.Create("d") with
            { Grpo = new() { StaleMode = StaleModeType.TruncatedIs } })).RootElement.GetProperty("grpo").GetProperty("stale_mode").GetString());
        Assert.Equal(32, root.GetProperty("model").GetProperty("config").GetProperty("hidden_size").GetInt32());
        Assert.Equal(3, root.GetProperty("data").GetProperty("task_parameters").GetProperty("length").GetInt32());
        Assert.Equal(0.01, root.GetProperty("sft").GetProperty("learning_rate").GetDouble());
        Assert.False(root.TryGetProperty("output_dir", out _));
    }

    [Fact]
    public void The_dataset_hash_changes_with_any_example_and_with_the_split()
    {
        IAnswerVerifier verifier = null!;
        var train = new List<PromptCompletion> { new("ab=", "ba"), new("cd=", "dc") };
        var eval = new List<PromptCompletion> { new("ef=", "fe") };
        var hash = ExperimentData.DatasetSha256(new LoadedData(train, eval, verifier));

        Assert.Equal(hash, ExperimentData.DatasetSha256(new LoadedData([.. train], [.. eval], verifier)));
        Assert.NotEqual(hash, ExperimentData.DatasetSha256(new LoadedData([train[0], new("cd=", "dd")], eval, verifier)));
        Assert.NotEqual(hash, ExperimentData.DatasetSha256(new LoadedData([train[0]], [train[1], .. eval], verifier)));
    }
}
