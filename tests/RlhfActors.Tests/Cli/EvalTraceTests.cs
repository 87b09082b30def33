using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace RlhfActors.Tests.Cli;

/// <summary>
/// <c>rlhf eval</c> writes records whose digests anyone can recompute; a run writes the same records for its own
/// evaluations; <c>rlhf trace</c> follows a score back through two runs (the second started from the first's
/// checkpoint) and names a file changed anywhere in the chain.
/// </summary>
public sealed class EvalTraceTests : IDisposable
{
    readonly TempFolder _folder = new();
    public void Dispose() => _folder.Dispose();

    /// <summary>A tiny SFT run of 10 steps (evaluated at 5 and 10, checkpointed at 10); its checkpoint folder.
    /// <paramref name="data"/>: its own train/eval files (reverse-task lines) instead of the built-in task.</summary>
    async Task<string> RunAsync(string name, string? init = null, bool data = false)
    {
        var text = TinyYaml.Text(Path.Combine(_folder.Path, name)).Replace("name: tiny-cli", $"name: {name}");
        text = TinyYaml.With(text, "  steps: 30", "  steps: 10");
        text = TinyYaml.With(text, "  every: 15", "  every: 5");
        if (data)
        {
            text = TinyYaml.With(text, "  task: reverse", $"  train_file: {WriteLines($"{name}-train.jsonl", 64, 1)}\n  eval_file: {WriteLines($"{name}-eval.jsonl", 8, 2)}");
            text = TinyYaml.With(text, "  task_parameters: { length: 3 }", "");
            text = TinyYaml.With(text, "  train_examples: 2000", "");
            text = TinyYaml.With(text, "  eval_examples: 20", "");
        }
        if (init is not null)
        {
            var start = text.IndexOf("model:", StringComparison.Ordinal);
            var end = text.IndexOf("data:", StringComparison.Ordinal);
            text = text[..start] + $"model:\n  init: {init}\n  dtype: fp32\n" + text[end..];
        }
        var run = await CliRunner.RunAsync("run", _folder.Write($"{name}.yaml", text), "--json");
        Assert.True(run.ExitCode == 0, run.ToString());
        return Directory.GetDirectories(Path.Combine(_folder.Path, name), "checkpoint-*").Single();
    }

    /// <summary>Reverse-task lines ("abc|" → "cba") drawn from <paramref name="seed"/>.</summary>
    string WriteLines(string name, int count, int seed)
    {
        var rng = new Random(seed);
        var lines = Enumerable.Range(0, count).Select(_ =>
        {
            var word = new string(Enumerable.Range(0, rng.Next(1, 4)).Select(_ => (char)('a' + rng.Next(26))).ToArray());
            return JsonSerializer.Serialize(new { prompt = word + "|", completion = new string(word.Reverse().ToArray()) });
        });
        return _folder.Write(name, string.Join("\n", lines) + "\n");
    }

    static string Sha256(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));

    /// <summary>The folder digest recomputed from the files themselves: <c>sha256sum</c>'s lines over the manifest's
    /// files, in ordinal order, hashed.</summary>
    static string FolderDigest(string checkpoint)
    {
        var names = JsonDocument.Parse(File.ReadAllText(Path.Combine(checkpoint, "manifest.json"))).RootElement
            .GetProperty("files").EnumerateObject().Select(f => f.Name).Order(StringComparer.Ordinal);
        var lines = string.Concat(names.Select(n => $"{Sha256(Path.Combine(checkpoint, n))}  {n}\n"));
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(lines)));
    }

    [Fact]
    public async Task Eval_records_digests_that_recompute_and_matches_the_runs_own_record()
    {
        var checkpoint = await RunAsync("task-run");
        var run = Path.GetDirectoryName(checkpoint)!;

        var eval = await CliRunner.RunAsync("eval", "--model", checkpoint, "--task", "reverse", "--task-parameters", "length=3",
            "--seed", "4", "--examples", "20", "--max-new-tokens", "5", "--json");
        Assert.True(eval.ExitCode == 0, eval.ToString());
        var printed = CliRunner.LastJson(eval.Stdout);
        var recordPath = printed.GetProperty("record").GetString()!;
        // Beside the checkpoint, never inside it.
        Assert.Equal(Path.Combine(run, "evals"), Path.GetDirectoryName(recordPath));
        var record = JsonDocument.Parse(File.ReadAllText(recordPath)).RootElement;
        Assert.Equal("rlhf-actors-eval/1", record.GetProperty("format").GetString());
        Assert.Equal("checkpoint", record.GetProperty("model").GetProperty("kind").GetString());
        Assert.Equal(10, record.GetProperty("model").GetProperty("step").GetInt32());
        Assert.Equal(FolderDigest(checkpoint), record.GetProperty("model").GetProperty("digest").GetString());
        Assert.Equal(3, record.GetProperty("data").GetProperty("task_parameters").GetProperty("length").GetInt32());
        Assert.Equal(5, record.GetProperty("sampling").GetProperty("max_new_tokens").GetInt32());
        Assert.Matches(@"\+[0-9a-f]{7,}", record.GetProperty("code").GetProperty("version").GetString());

        // The run's own record of step 10 scored the same weights on the same examples: the same digest and score.
        var inRun = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "evals", "eval-10.json"))).RootElement;
        Assert.Equal("policy_version", inRun.GetProperty("model").GetProperty("kind").GetString());
        Assert.Equal(checkpoint, inRun.GetProperty("model").GetProperty("checkpoint").GetString());
        Assert.Equal(record.GetProperty("data").GetProperty("digest").GetString(), inRun.GetProperty("data").GetProperty("digest").GetString());
        Assert.Equal(record.GetProperty("scores").GetProperty("correct").GetInt32(), inRun.GetProperty("scores").GetProperty("correct").GetInt32());
        Assert.Equal(20, inRun.GetProperty("scores").GetProperty("examples").GetInt32());
        Assert.Matches("^[0-9a-f]{64}$", inRun.GetProperty("model").GetProperty("digest").GetString());

        // Traced: the step-10 record reaches its checkpoint; step 5 had none, which ends the chain without breaking it.
        var traced = await CliRunner.RunAsync("trace", Path.Combine(run, "evals", "eval-10.json"), "--json");
        Assert.True(traced.ExitCode == 0, traced.ToString());
        Assert.Equal(checkpoint, CliRunner.LastJson(traced.Stdout).GetProperty("lineage").GetProperty("checkpoint").GetString());
        var early = await CliRunner.RunAsync("trace", Path.Combine(run, "evals", "eval-5.json"));
        Assert.True(early.ExitCode == 0, early.ToString());
        Assert.Contains("not checkpointed", early.Stdout);

        // An eval file: its digest is the file's SHA-256; --out names the record.
        var file = WriteLines("held-out.jsonl", 6, 3);
        var outPath = Path.Combine(_folder.Path, "out", "file-eval.json");
        var byFile = await CliRunner.RunAsync("eval", "--model", checkpoint, "--eval-file", file, "--out", outPath, "--max-new-tokens", "5");
        Assert.True(byFile.ExitCode == 0, byFile.ToString());
        Assert.Contains("accuracy", byFile.Stdout);
        var fileRecord = JsonDocument.Parse(File.ReadAllText(outPath)).RootElement;
        Assert.Equal(Sha256(file), fileRecord.GetProperty("data").GetProperty("digest").GetString());
        Assert.Equal(6, fileRecord.GetProperty("scores").GetProperty("examples").GetInt32());
        Assert.Equal(FolderDigest(checkpoint), fileRecord.GetProperty("model").GetProperty("digest").GetString());
    }

    [Theory]
    [InlineData("--task-parameters", "lenght=3", "lenght")]
    [InlineData("--task-parameters", "length=x", "length=x")]
    [InlineData("--task-parameters", "length=99", "out of range")]
    [InlineData("--task", "revrse", "revrse")]
    public async Task A_bad_task_or_parameter_exits_2_naming_it(string option, string value, string named)
    {
        var checkpoint = Path.Combine(_folder.Path, "model");
        Directory.CreateDirectory(checkpoint);
        File.WriteAllText(Path.Combine(checkpoint, "config.json"), """{"model_type": "llama", "vocab_size": 40, "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2}""");
        File.WriteAllText(Path.Combine(checkpoint, "rlhf_char_tokenizer.json"), "{}");
        string[] args = option == "--task"
            ? ["eval", "--model", checkpoint, "--task", value]
            : ["eval", "--model", checkpoint, "--task", "reverse", option, value];
        var eval = await CliRunner.RunAsync(args);
        Assert.True(eval.ExitCode == 2, eval.ToString());
        Assert.Contains(named, eval.Stderr);
        Assert.DoesNotContain("   at ", eval.Stderr);
        Assert.False(Directory.Exists(Path.Combine(_folder.Path, "evals")));

        var missing = await CliRunner.RunAsync("eval", "--model", Path.Combine(_folder.Path, "nowhere"), "--task", "reverse");
        Assert.True(missing.ExitCode == 2, missing.ToString());
        Assert.Contains("nowhere", missing.Stderr);
        var notRecord = await CliRunner.RunAsync("trace", Path.Combine(checkpoint, "config.json"));
        Assert.True(notRecord.ExitCode == 2, notRecord.ToString());
        Assert.Contains("not an evaluation record", notRecord.Stderr);
    }

    [Fact]
    public async Task Trace_follows_a_score_through_two_runs_and_names_a_changed_dataset_byte()
    {
        var first = await RunAsync("a", data: true);
        var second = await RunAsync("b", init: first, data: true);
        var evalFile = Path.Combine(_folder.Path, "b-eval.jsonl");
        var eval = await CliRunner.RunAsync("eval", "--model", second, "--eval-file", evalFile, "--max-new-tokens", "5", "--json");
        Assert.True(eval.ExitCode == 0, eval.ToString());
        var record = CliRunner.LastJson(eval.Stdout).GetProperty("record").GetString()!;

        var traced = await CliRunner.RunAsync("trace", record, "--json");
        Assert.True(traced.ExitCode == 0, traced.ToString());
        var json = CliRunner.LastJson(traced.Stdout);
        Assert.True(json.GetProperty("intact").GetBoolean());
        Assert.Equal(evalFile, json.GetProperty("data").GetProperty("path").GetString());
        var lineage = json.GetProperty("lineage");
        Assert.Equal(second, lineage.GetProperty("checkpoint").GetString());
        Assert.Equal("b", lineage.GetProperty("provenance").GetProperty("experiment").GetString());
        Assert.Matches("^[0-9a-f]{64}$", lineage.GetProperty("provenance").GetProperty("config_sha256").GetString());
        Assert.True(lineage.GetProperty("config_hash_matches").GetBoolean());
        var inputs = lineage.GetProperty("inputs").EnumerateArray().ToDictionary(i => i.GetProperty("field").GetString()!);
        Assert.Equal(Path.Combine(_folder.Path, "b-train.jsonl"), inputs["data.train_file"].GetProperty("path").GetString());
        Assert.Equal(first, inputs["model.init"].GetProperty("path").GetString());
        var origin = inputs["model.init"].GetProperty("origin");
        Assert.Equal(first, origin.GetProperty("checkpoint").GetString());
        Assert.Equal("a", origin.GetProperty("provenance").GetProperty("experiment").GetString());
        Assert.Contains(origin.GetProperty("inputs").EnumerateArray(),
            i => i.GetProperty("path").GetString() == Path.Combine(_folder.Path, "a-train.jsonl") && i.GetProperty("state").GetString() == "unchanged");

        // One byte of the first run's dataset changes: the chain breaks two runs down, naming the file.
        var aTrain = Path.Combine(_folder.Path, "a-train.jsonl");
        var bytes = File.ReadAllBytes(aTrain);
        var at = Array.IndexOf(bytes, (byte)'|') - 1;
        bytes[at] = (byte)(bytes[at] == (byte)'a' ? 'b' : 'a');
        File.WriteAllBytes(aTrain, bytes);
        var broken = await CliRunner.RunAsync("trace", record);
        Assert.True(broken.ExitCode == 1, broken.ToString());
        Assert.Contains("← data.train_file " + aTrain + ": changed: a-train.jsonl", broken.Stdout);
        Assert.Contains("does not match", broken.Stderr);

        // And the record's own eval file.
        File.AppendAllText(evalFile, "\n");
        var brokenData = CliRunner.LastJson((await CliRunner.RunAsync("trace", record, "--json")).Stdout);
        Assert.Equal("changed", brokenData.GetProperty("data").GetProperty("state").GetString());
    }
}
