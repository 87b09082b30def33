using System.Text;
using RlhfActors.Client.Config;

namespace RlhfActors.Tests.Cli;

/// <summary>The experiment file's caps (YamlBounds, the file size, the example counts): each input is generated here,
/// past its cap, and must be refused with the cap named — quickly, before anything large is built.</summary>
public sealed class ConfigBoundsTests : IDisposable
{
    const string File = "bounds.yaml";
    readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    string Output => Path.Combine(_folder.Path, "out");

    /// <summary>A valid file with <paramref name="config"/> as the scratch model's config.json fields (indented 4).</summary>
    static string WithModelConfig(string config) => $"""
        name: bounds
        model:
          init: scratch
          config:
        {config}
        data:
          task: addition
        """;

    static string OnlyError(string yaml)
    {
        var error = Assert.Throws<ConfigLoadException>(() => ExperimentYamlLoader.Parse(yaml, File));
        return Assert.Single(error.Errors);
    }

    static int LineStarting(string yaml, string start) => yaml.Split('\n').ToList().FindIndex(l => l.StartsWith(start, StringComparison.Ordinal)) + 1;

    [Fact]
    public void A_file_over_the_size_cap_is_refused_before_it_is_read()
    {
        var file = _folder.Write("big.yaml", "name: big\n" + new string('#', YamlBounds.MaxFileBytes));
        var error = Assert.Throws<ConfigLoadException>(() => ExperimentYamlLoader.Load(file));
        Assert.Equal($"{file}: YAML too large: {YamlBounds.MaxFileBytes + 10} bytes (the limit for an experiment file is 1048576 bytes)",
            Assert.Single(error.Errors));
    }

    [Fact]
    public void Text_over_the_size_cap_is_refused_before_it_is_parsed()
    {
        var yaml = "name: big\n" + new string('#', YamlBounds.MaxFileBytes);
        Assert.Equal($"{File}: YAML too large: {yaml.Length} characters (the limit for an experiment file is 1048576)", OnlyError(yaml));
    }

    [Fact]
    public void Aliases_that_would_expand_past_the_node_cap_are_refused_before_anything_expands()
    {
        // "Billion laughs": each level lists the previous one ten times, 10^10 nodes at the last level.
        var levels = new StringBuilder("    l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n");
        for (int i = 1; i < 10; i++)
            levels.Append($"    l{i}: &l{i} [{string.Join(", ", Enumerable.Repeat($"*l{i - 1}", 10))}]\n");
        var yaml = WithModelConfig(levels.ToString().TrimEnd());

        var error = OnlyError(yaml);
        Assert.StartsWith($"{File}:{LineStarting(yaml, "    l3:")}: model.config.l3[", error);
        Assert.Contains("alias expansion would produce more than 10000 nodes (the limit for an experiment file)", error);
    }

    [Fact]
    public void Aliases_that_repeat_a_long_value_past_the_text_cap_are_refused()
    {
        // 20 uses of a 100,000-character value: few nodes, but two megabytes of JSON once expanded.
        var yaml = WithModelConfig($"    model_type: &long {new string('x', 100_000)}\n" +
                                   $"    architectures: [{string.Join(", ", Enumerable.Repeat("*long", 20))}]");
        var error = OnlyError(yaml);
        Assert.StartsWith($"{File}:{LineStarting(yaml, "    architectures:")}: model.config.architectures[", error);
        Assert.Contains("alias expansion would produce more than 1048576 characters of text", error);
    }

    [Fact]
    public void More_aliases_than_the_cap_are_refused()
    {
        var yaml = WithModelConfig($"    hidden_size: &w 32\n    extra: [{string.Join(", ", Enumerable.Repeat("*w", YamlBounds.MaxAliases + 1))}]");
        var error = OnlyError(yaml);
        Assert.StartsWith($"{File}:{LineStarting(yaml, "    extra:")}: model.config.extra[1000]: more than 1000 aliases", error);
    }

    [Fact]
    public void A_recursive_alias_is_refused()
    {
        // The representation model resolves *c to the mapping that holds it; expanding that never ends.
        var yaml = WithModelConfig("    loop: &c { again: *c }");
        Assert.Equal($"{File}:{LineStarting(yaml, "    loop:")}: model.config.loop.again: alias *c is inside the node it names; " +
                     "a recursive alias cannot be expanded", OnlyError(yaml));
    }

    [Fact]
    public void A_mapping_with_more_keys_than_the_cap_is_refused()
    {
        var keys = string.Join("\n", Enumerable.Range(0, YamlBounds.MaxKeysPerMapping + 1).Select(i => $"    k{i}: 1"));
        var yaml = $"name: keys\ndata:\n  task: addition\n  task_parameters:\n{keys}\n";
        Assert.Equal($"{File}:{LineStarting(yaml, "    k1000:")}: data.task_parameters: more than 1000 keys in one mapping " +
                     "(the limit for an experiment file)", OnlyError(yaml));
    }

    [Fact]
    public void More_keys_and_values_than_the_node_cap_are_refused_without_aliases()
    {
        var yaml = $"name: nodes\nlist: [{string.Join(", ", Enumerable.Repeat("0", YamlBounds.MaxNodes))}]\n";
        var error = OnlyError(yaml);
        Assert.StartsWith($"{File}:2: list[", error);
        Assert.Contains("more than 10000 keys and values in the file (the limit for an experiment file)", error);
    }

    [Fact]
    public void Nesting_deeper_than_the_cap_is_refused()
    {
        // Deep enough to overflow the stack of a recursive reader; the cap stops at level 65.
        var yaml = $"name: deep\ndeep: {new string('[', 100_000)}{new string(']', 100_000)}\n";
        var error = OnlyError(yaml);
        Assert.StartsWith($"{File}:2: deep", error);
        Assert.Contains("nested more than 64 levels deep (the limit for an experiment file)", error);
    }

    [Fact]
    public void Aliases_within_the_caps_still_load()
    {
        var text = TinyYaml.With(TinyYaml.Text(Output), "    hidden_size: 32", "    hidden_size: &width 32");
        text = TinyYaml.With(text, "    max_position_embeddings: 32", "    max_position_embeddings: *width");
        var config = ExperimentYamlLoader.Parse(text, File);
        Assert.Contains("\"max_position_embeddings\":32", config.Model.ConfigJson);
    }

    [Theory]
    [InlineData("  train_examples: 2000", "  train_examples: 10000001", "data.train_examples must be at most 10000000 (the limit for generated examples) (got 10000001)")]
    [InlineData("  train_examples: 2000", "  train_examples: 1000000000", "data.train_examples must be at most 10000000")]
    [InlineData("  eval_examples: 20", "  eval_examples: 1000001", "data.eval_examples must be at most 1000000 (the limit for generated examples) (got 1000001)")]
    public void Example_counts_past_the_cap_are_errors_naming_the_field_and_the_cap(string line, string replacement, string expected) =>
        BadField.IsNamedWithItsLine(TinyYaml.Text(Output), File, line, replacement, expected);

    [Fact]
    public void Example_counts_at_the_cap_pass_validation()
    {
        var text = TinyYaml.With(TinyYaml.Text(Output), "  train_examples: 2000", "  train_examples: 10000000");
        text = TinyYaml.With(text, "  eval_examples: 20", "  eval_examples: 1000000");
        var config = ExperimentYamlLoader.Parse(text, File);
        Assert.Equal((10_000_000, 1_000_000), (config.Data.TrainExamples, config.Data.EvalExamples));
    }
}
