using System.Text.Json;

namespace RlhfActors.Tests.Cli;

/// <summary><c>rlhf run</c> through the CLI entry point, in-process.</summary>
public sealed class RunCommandTests : IDisposable
{
    readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    string Output => Path.Combine(_folder.Path, "out");

    [Theory]
    [InlineData("algorithm: sft", "algorithm: kto", "algorithm must be one of: sft, grpo, ppo, dpo, rlaif, distill, online_dpo (got 'kto')")]
    [InlineData("name: tiny-cli", "name: has spaces", "name must be 1-100 letters")]
    [InlineData("  dtype: fp32", "  dtype: fp16", "model.dtype must be one of: bf16, fp32 (got 'fp16')")]
    [InlineData("  tokenizer: char", "  tokenizer: ''", "model.tokenizer must be 'char' or a path (got '')")]
    [InlineData("  train_examples: 2000", "  train_examples: 0", "data.train_examples must be > 0 (got 0)")]
    [InlineData("  eval_examples: 20", "  eval_examples: -5", "data.eval_examples must be > 0 (got -5)")]
    [InlineData("  steps: 30", "  steps: 0", "sft.steps must be > 0 (got 0)")]
    [InlineData("  batch_size: 16", "  batch_size: 0", "sft.batch_size must be > 0 (got 0)")]
    [InlineData("  learning_rate: 0.01", "  learning_rate: -1", "sft.learning_rate must be > 0 (got -1)")]
    [InlineData("  learning_rate: 0.01", "  learning_rate: fast", "sft.learning_rate must be a number (got 'fast')")]
    [InlineData("  warmup_steps: 3", "  warmup_steps: 31", "sft.warmup_steps must be between 0 and sft.steps (got 31)")]
    [InlineData("  min_learning_rate_ratio: 0.1", "  min_learning_rate_ratio: 1.5", "sft.min_learning_rate_ratio must be between 0 and 1 (got 1.5)")]
    [InlineData("  weight_decay: 0.1", "  weight_decay: -0.1", "sft.weight_decay must be >= 0 (got -0.1)")]
    [InlineData("  max_grad_norm: 1.0", "  max_grad_norm: 0", "sft.max_grad_norm must be > 0 (got 0)")]
    [InlineData("  completion_only_loss: true", "  completion_only_loss: maybe", "sft.completion_only_loss must be true or false (got 'maybe')")]
    [InlineData("  every: 15", "  every: -1", "eval.every must be >= 0")]
    [InlineData("  max_new_tokens: 5", "  max_new_tokens: 0", "eval.max_new_tokens must be > 0 (got 0)")]
    [InlineData("  every: 0", "  every: -2", "checkpoint.every must be >= 0")]
    [InlineData("    hidden_size: 32", "    hidden_size: 0", "model.config.hidden_size must be > 0")]
    [InlineData("  steps: 30", "  steps: 2.5", "sft.steps must be a whole number (got '2.5')")]
    public async Task A_bad_field_exits_2_naming_the_file_line_and_field(string line, string replacement, string expected)
    {
        var text = TinyYaml.With(TinyYaml.Text(Output), line, replacement);
        var file = _folder.Write("bad.yaml", text);

        var run = await CliRunner.RunAsync("run", file);

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Contains(expected, run.Stderr);
        Assert.Contains($"{file}:{TinyYaml.LineOf(text, replacement)}: ", run.Stderr);
        Assert.Equal("", run.Stdout);
        Assert.False(Directory.Exists(Output), "a rejected config must start nothing");
    }

    [Theory]
    [InlineData("  learning_rate: 0.01", "  learning_rat: 0.01", "unknown key 'sft.learning_rat'")]
    [InlineData("seed: 4", "sed: 4", "unknown key 'sed' in the top level")]
    [InlineData("    rope_theta: 10000", "    rope_thetta: 10000", "unknown key 'model.config.rope_thetta'")]
    public async Task An_unknown_key_is_an_error_with_its_line(string line, string replacement, string expected)
    {
        var text = TinyYaml.With(TinyYaml.Text(Output), line, replacement);
        var file = _folder.Write("typo.yaml", text);

        var run = await CliRunner.RunAsync("run", file);

        Assert.Equal(2, run.ExitCode);
        Assert.Contains($"{file}:{TinyYaml.LineOf(text, replacement)}: {expected}", run.Stderr);
    }

    [Fact]
    public async Task Both_a_task_and_a_train_file_is_an_error()
    {
        var text = TinyYaml.With(TinyYaml.Text(Output), "  train_examples: 2000", "  train_file: x.jsonl");
        var file = _folder.Write("both.yaml", text);

        var run = await CliRunner.RunAsync("run", file);

        Assert.Equal(2, run.ExitCode);
        Assert.Contains($"{file}:{TinyYaml.LineOf(text, "  task: reverse")}: data must set exactly one of 'task' and 'train_file'", run.Stderr);
    }

    [Theory]
    [InlineData("  batch_size: [16", false)]
    [InlineData("  batch_size: 16: 3", true)]
    [InlineData("\tbatch_size: 16", true)]
    public async Task Broken_yaml_is_reported(string replacement, bool hasLine)
    {
        var text = TinyYaml.With(TinyYaml.Text(Output), "  batch_size: 16", replacement.Replace("\\t", "\t"));
        var file = _folder.Write("broken.yaml", text);

        var run = await CliRunner.RunAsync("run", file);

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Contains("not valid YAML", run.Stderr);
        if (hasLine) Assert.Matches($@"{System.Text.RegularExpressions.Regex.Escape(file)}:\d+: not valid YAML", run.Stderr);
    }

    [Fact]
    public async Task A_missing_file_exits_2()
    {
        var missing = Path.Combine(_folder.Path, "nope.yaml");
        var run = await CliRunner.RunAsync("run", missing);
        Assert.Equal(2, run.ExitCode);
        Assert.Contains($"{missing}: experiment file not found", run.Stderr);
    }

    [Fact]
    public async Task A_missing_model_folder_is_refused_before_anything_starts()
    {
        var text = TinyYaml.Text(Output);
        var configStart = text.IndexOf("  config:", StringComparison.Ordinal);
        var configEnd = text.IndexOf("data:", StringComparison.Ordinal);
        text = text[..configStart] + text[configEnd..];
        text = TinyYaml.With(text, "  init: scratch", "  init: no-such-model-folder");
        var file = _folder.Write("model.yaml", text);

        var run = await CliRunner.RunAsync("run", file);

        Assert.Equal(2, run.ExitCode);
        Assert.Contains($"model.init: folder '{Path.GetFullPath("no-such-model-folder")}' does not exist", run.Stderr);
    }

    [Fact]
    public async Task An_output_dir_with_an_earlier_checkpoint_is_refused()
    {
        Directory.CreateDirectory(Path.Combine(Output, "checkpoint-30"));
        var run = await CliRunner.RunAsync("run", _folder.Write("again.yaml", TinyYaml.Text(Output)));
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("already holds checkpoint-30", run.Stderr);
    }

    [Fact]
    public async Task Usage_errors_exit_2()
    {
        var none = await CliRunner.RunAsync("run");
        Assert.Equal(2, none.ExitCode);
        Assert.Contains("error:", none.Stderr);
        var unknown = await CliRunner.RunAsync("frobnicate");
        Assert.Equal(2, unknown.ExitCode);
    }

    /// <summary>End to end on an embedded silo.</summary>
    [Fact]
    public async Task A_tiny_run_with_json_ends_with_one_json_line()
    {
        var file = _folder.Write("tiny.yaml", TinyYaml.Text(Output));

        var run = await CliRunner.RunAsync("run", file, "--json");

        Assert.True(run.ExitCode == 0, run.ToString());
        var last = run.Stdout.TrimEnd().Split('\n')[^1];
        using var json = JsonDocument.Parse(last);
        var root = json.RootElement;
        Assert.Equal("tiny-cli", root.GetProperty("experiment").GetString());
        Assert.Equal("sft", root.GetProperty("algorithm").GetString());
        Assert.Equal(30, root.GetProperty("steps").GetInt32());
        Assert.True(root.GetProperty("wall_s").GetDouble() > 0);
        Assert.True(root.GetProperty("train_tokens_per_s").GetDouble() > 0);
        Assert.InRange(root.GetProperty("eval").GetProperty("accuracy_before").GetDouble(), 0, 1);
        Assert.InRange(root.GetProperty("eval").GetProperty("accuracy_after").GetDouble(), 0, 1);
        var checkpoint = root.GetProperty("checkpoint").GetString();
        Assert.Equal(Path.Combine(Output, "checkpoint-30"), checkpoint);
        Assert.True(Directory.Exists(checkpoint));
        // Progress went to stderr: one line per evaluation (before, step 15, after).
        Assert.Equal(3, run.Stderr.Split('\n').Count(l => l.Contains("] eval at step")));

        // The checkpoint is a Hugging Face folder that `rlhf generate` loads.
        var generate = await CliRunner.RunAsync("generate", "--model", checkpoint!, "--ids", "5,6,7", "--max-new-tokens", "4", "--greedy", "--json");
        Assert.True(generate.ExitCode == 0, generate.ToString());
        using var generated = JsonDocument.Parse(generate.Stdout.TrimEnd().Split('\n')[^1]);
        var ids = generated.RootElement.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToList();
        var logprobs = generated.RootElement.GetProperty("logprobs").EnumerateArray().Select(e => e.GetDouble()).ToList();
        Assert.InRange(ids.Count, 1, 4);
        Assert.Equal(ids.Count, logprobs.Count);
        Assert.All(logprobs, lp => Assert.True(lp <= 0, $"log-probability {lp} > 0"));

        // The checkpoint carries its tokenizer, so text prompts work too.
        var text = await CliRunner.RunAsync("generate", "--model", checkpoint!, "--prompt", "abc|", "--max-new-tokens", "4", "--greedy", "--json");
        Assert.True(text.ExitCode == 0, text.ToString());
        using var textJson = JsonDocument.Parse(text.Stdout.TrimEnd().Split('\n')[^1]);
        Assert.True(textJson.RootElement.TryGetProperty("text", out _), text.Stdout);
    }
}
