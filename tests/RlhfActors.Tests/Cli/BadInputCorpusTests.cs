using System.Text;
using RlhfActors.Tests.IO;
using RlhfActors.Training.Checkpoints;

namespace RlhfActors.Tests.Cli;

/// <summary>
/// The bad-input corpus: configs, JSONL datasets, model folders and checkpoints that a hostile or careless user might
/// hand to the commands (HTTP endpoints' garbage, 5xx, slow, huge and NaN answers are in HttpRewardTests,
/// HttpRewardResponseCapTests, HttpChatJudgeTests and their secrets tests). Each case asserts the exit code, that the
/// message names the place, that no stack trace appears, and that nothing was written. Large inputs are generated here,
/// never committed. docs/bad-input-corpus.md counts the cases per category.
/// </summary>
public sealed class BadInputCorpusTests : IDisposable
{
    readonly TempFolder _folder = new();
    public void Dispose() => _folder.Dispose();

    string Output => Path.Combine(_folder.Path, "out");

    /// <summary>What a case runs and expects: the command's arguments, its exit code, text its stderr must hold, and
    /// a path that must not exist afterwards.</summary>
    sealed record Case(string[] Args, int Exit, string Expected, string MustNotExist);

    public static TheoryData<string> Cases() => [.. Builders.Keys];

    static readonly Dictionary<string, Func<BadInputCorpusTests, Case>> Builders = new()
    {
        // Configs.
        ["config: binary garbage"] = t => t.Run(t.Bytes("c.yaml", [0xFF, 0xFE, 0x00, 0x9F, 0x01, 0x02]), "c.yaml"),
        ["config: empty file"] = t => t.Run(t.Text("c.yaml", ""), "must hold one YAML mapping"),
        ["config: a list, not a mapping"] = t => t.Run(t.Text("c.yaml", "- a\n- b\n"), "must hold one YAML mapping"),
        ["config: billion laughs in model.config"] = t => t.Run(t.Text("c.yaml", Laughs(t.Output)), "alias expansion would produce more than"),
        ["config: 2 MB file"] = t => t.Run(t.Text("c.yaml", TinyYaml.Text(t.Output) + "\n#" + new string('x', 2 << 20)), "YAML too large"),
        ["config: 5,000 keys in one mapping"] = t => t.Run(t.Text("c.yaml", TinyYaml.Text(t.Output) + "\nextra:\n" +
            string.Concat(Enumerable.Range(0, 5000).Select(i => $"  k{i}: {i}\n"))), "keys"),
        ["config: NaN learning rate"] = t => t.Run(t.Text("c.yaml", TinyYaml.With(TinyYaml.Text(t.Output), "  learning_rate: 0.01", "  learning_rate: .nan")), "sft.learning_rate"),
        ["config: a billion examples"] = t => t.Run(t.Text("c.yaml", TinyYaml.With(TinyYaml.Text(t.Output), "  train_examples: 2000", "  train_examples: 1000000000")), "data.train_examples must be at most"),
        ["config: unknown key"] = t => t.Run(t.Text("c.yaml", TinyYaml.Text(t.Output) + "\nlerning_rate: 1\n"), "unknown key 'lerning_rate'"),
        ["config: unknown task parameter"] = t => t.Run(t.Text("c.yaml", TinyYaml.With(TinyYaml.Text(t.Output), "  task_parameters: { length: 3 }", "  task_parameters: { digts: 3 }")), "has no parameter 'digts'"),
        ["config: terabyte model"] = t => t.Run(t.Text("c.yaml", TinyYaml.With(TinyYaml.Text(t.Output), "    hidden_size: 32", "    hidden_size: 1000000")), "needs about"),
        ["config: output_dir under a file"] = t => t.RunTo(t.Text("c.yaml", TinyYaml.Text(Path.Combine(t.Text("file", "x"), "out"))), "cannot be written", Path.Combine(t._folder.Path, "file", "out")),

        // JSONL datasets.
        ["jsonl: a line that is not JSON"] = t => t.RunData("{\"prompt\": \"ab=\", \"completion\": \"ba\"}\nnot json\n", ":2:"),
        ["jsonl: bytes that are not UTF-8"] = t => t.RunData(Encoding.UTF8.GetBytes("{\"prompt\": \"ab=\", \"completion\": \"b\"}\n{\"prompt\": \"")
            .Concat(new byte[] { 0xC3, 0x28 }).Concat(Encoding.UTF8.GetBytes("\", \"completion\": \"x\"}\n")).ToArray(), ":2: not valid UTF-8"),
        ["jsonl: a 2 MiB line"] = t => t.RunData($"{{\"prompt\": \"{new string('a', 2 << 20)}\", \"completion\": \"b\"}}\n", ":1:"),
        ["jsonl: a line over a lowered data.max_line_bytes"] = t => t.RunData($"{{\"prompt\": \"{new string('a', 2000)}\", \"completion\": \"b\"}}\n", "longer than 1024 bytes", "  max_line_bytes: 1024"),
        ["jsonl: a missing field"] = t => t.RunData("{\"prompt\": \"ab=\"}\n", ":1:"),
        ["jsonl: a character the char tokenizer lacks"] = t => t.RunData("{\"prompt\": \"ab=\", \"completion\": \"ba\"}\n{\"prompt\": \"é=\", \"completion\": \"x\"}\n", ":2:"),
        ["jsonl: an empty file"] = t => t.RunData("", "train.jsonl"),

        // Model folders.
        ["model folder: no config.json"] = t => t.RunInit(t.Folder("m"), "has no config.json"),
        ["model folder: config.json is garbage"] = t => t.Generate(t.Folder("m", ("config.json", "{not json")), 1, "config.json"),
        ["model folder: terabyte config"] = t => t.Generate(t.Folder("m", ("config.json", """{"model_type": "llama", "vocab_size": 64, "hidden_size": 1000000, "intermediate_size": 4000000, "num_hidden_layers": 80, "num_attention_heads": 8, "eos_token_id": 1}""")), 1, "needs about"),
        ["model folder: pickled weights only"] = t => t.Generate(t.Folder("m", ("config.json", SmallConfig), ("pytorch_model.bin", "pickle")), 1, "pickled"),
        ["model folder: truncated safetensors"] = t => t.Generate(t.Folder("m", ("config.json", SmallConfig), ("model.safetensors", "\u0010\0\0\0\0\0\0\0{\"a\":")), 1, "model.safetensors"),

        // Checkpoints, through every command that reads one.
        ["checkpoint: a flipped byte (verify)"] = t => new Case(["verify", t.Checkpoint(Flip)], 1, "SHA-256 is", t.Output),
        ["checkpoint: a flipped byte (generate)"] = t => new Case(["generate", "--model", t.Checkpoint(Flip), "--ids", "1"], 2, "SHA-256 is", t.Output),
        ["checkpoint: a flipped byte (export)"] = t => new Case(["export", t.Checkpoint(Flip), "--out", t.Output], 2, "SHA-256 is", t.Output),
        ["checkpoint: a flipped byte (model.init)"] = t => t.RunInit(t.Checkpoint(Flip), "SHA-256 is"),
        ["checkpoint: manifest deleted"] = t => new Case(["export", t.Checkpoint(d => File.Delete(Path.Combine(d, "manifest.json"))), "--out", t.Output], 2, "neither a checkpoint", t.Output),
        ["checkpoint: manifest is garbage"] = t => new Case(["verify", t.Checkpoint(d => File.WriteAllText(Path.Combine(d, "manifest.json"), "{{{"))], 1, "not valid JSON", t.Output),
        ["checkpoint: manifest names a file outside"] = t => new Case(["generate", "--model", t.Checkpoint(d => File.WriteAllText(Path.Combine(d, "manifest.json"),
            File.ReadAllText(Path.Combine(d, "manifest.json")).Replace("\"config.json\"", "\"../config.json\""))), "--ids", "1"], 2, "not a plain file name", t.Output),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Bad_input_is_refused_with_the_place_named_and_nothing_written(string name)
    {
        var c = Builders[name](this);

        var run = await CliRunner.RunAsync(c.Args);

        Assert.True(run.ExitCode == c.Exit, $"{name}: {run}");
        Assert.Contains(c.Expected, run.Stderr);
        Assert.DoesNotContain("   at ", run.Stderr);
        Assert.DoesNotContain("Unhandled", run.Stderr);
        Assert.DoesNotContain("(Parameter '", run.Stderr);
        Assert.False(Path.Exists(c.MustNotExist), $"{name}: {c.MustNotExist} was written");
    }

    const string SmallConfig = """{"model_type": "llama", "vocab_size": 16, "hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "eos_token_id": 1}""";

    Case Run(string file, string expected) => RunTo(file, expected, Output);
    Case RunTo(string file, string expected, string mustNotExist) => new(["run", file], 2, expected, mustNotExist);

    Case RunData(object content, string expected, string? dataLine = null)
    {
        var path = Path.Combine(_folder.Path, "train.jsonl");
        if (content is byte[] bytes) File.WriteAllBytes(path, bytes);
        else File.WriteAllText(path, (string)content);
        var eval = Text("eval.jsonl", "{\"prompt\": \"ab=\", \"completion\": \"ba\"}\n");
        var text = TinyYaml.With(TinyYaml.Text(Output), "  task: reverse", $"  train_file: {path}\n  eval_file: {eval}");
        text = TinyYaml.With(text, "  task_parameters: { length: 3 }", "");
        text = TinyYaml.With(text, "  train_examples: 2000", "");
        text = TinyYaml.With(text, "  eval_examples: 20", dataLine ?? "");
        return Run(Text("c.yaml", text), expected);
    }

    Case RunInit(string folder, string expected)
    {
        var text = TinyYaml.Text(Output);
        text = text[..text.IndexOf("model:", StringComparison.Ordinal)] + $"model:\n  init: {folder}\n" + text[text.IndexOf("data:", StringComparison.Ordinal)..];
        return Run(Text("c.yaml", text), expected);
    }

    Case Generate(string folder, int exit, string expected) => new(["generate", "--model", folder, "--ids", "1"], exit, expected, Output);

    string Text(string name, string text) => _folder.Write(name, text);

    string Bytes(string name, byte[] bytes)
    {
        var path = Path.Combine(_folder.Path, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    string Folder(string name, params (string File, string Text)[] files)
    {
        var path = Path.Combine(_folder.Path, name);
        Directory.CreateDirectory(path);
        foreach (var (file, text) in files) File.WriteAllText(Path.Combine(path, file), text);
        return path;
    }

    string Checkpoint(Action<string> damage)
    {
        var path = CheckpointWriter.Write(Path.Combine(_folder.Path, "checkpoint-5"), TinyModel.Config, TinyModel.Weights(), [], "{}", 5,
            new Dictionary<string, string>()).Path;
        damage(path);
        return path;
    }

    static void Flip(string checkpoint)
    {
        var weights = Path.Combine(checkpoint, "model.safetensors");
        var bytes = File.ReadAllBytes(weights);
        bytes[^2] ^= 0x01;
        File.WriteAllBytes(weights, bytes);
    }

    /// <summary>Nine levels of aliases, each nine of the one below: 9^9 nodes once expanded.</summary>
    static string Laughs(string output)
    {
        var text = new StringBuilder(TinyYaml.Text(output).Replace("    tie_word_embeddings: true", "    tie_word_embeddings: true\n    lol0: &a0 [lol]"));
        var at = text.ToString().IndexOf("    lol0:", StringComparison.Ordinal);
        var extra = new StringBuilder();
        for (var i = 1; i <= 9; i++)
            extra.Append($"    lol{i}: &a{i} [{string.Join(", ", Enumerable.Repeat($"*a{i - 1}", 9))}]\n");
        return text.ToString().Insert(text.ToString().IndexOf('\n', at) + 1, extra.ToString());
    }
}
