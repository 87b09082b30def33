using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using RlhfActors.Client.Progress;
using RlhfActors.Training.Checkpoints;
using RlhfActors.Training.Evaluation;
using RlhfActors.Training.IO;
using RlhfActors.Training.Model;
using RlhfActors.Training.Tokenization;

namespace RlhfActors.Client.Commands;

/// <summary>
/// <c>rlhf eval --model &lt;dir&gt; (--task T [--task-parameters k=v[,k=v]] | --eval-file F) [--out FILE] [--json]</c>:
/// scores a checkpoint, Hugging Face folder or PEFT adapter folder in this process (greedy generation, exact match, as a
/// run evaluates) and writes an <see cref="EvaluationRecord"/>: the scores with the model's and the examples' digests,
/// so <c>rlhf trace</c> can check them later. Exit 0 when scored, 2 for a bad path, task or parameter (named), 1 when
/// the model cannot be run.
/// </summary>
/// <remarks>The record goes to <c>--out</c>, by default to <c>evals/</c> beside the model folder, never inside it:
/// a file added to a plain model folder changes its digest (and breaks the lineage of every run that started from it),
/// and a run folder's <c>evals/</c> is where the run's own evaluations are recorded.</remarks>
public static class EvalCommand
{
    public static Command Create(CliContext cli)
    {
        var model = new Option<string>("--model") { Description = "A checkpoint, Hugging Face model folder or PEFT adapter folder", Required = true };
        var task = new Option<string?>("--task") { Description = "A built-in task: its held-out examples, drawn as a run with --seed draws them" };
        var parameters = new Option<string?>("--task-parameters") { Description = "The task's parameters: k=v[,k=v], e.g. digits=3" };
        var evalFile = new Option<string?>("--eval-file") { Description = "A JSONL file of prompt/completion lines, scored by exact match" };
        var examples = new Option<int>("--examples") { Description = "Held-out examples of --task (data.eval_examples)", DefaultValueFactory = _ => 200 };
        var seed = new Option<int>("--seed") { Description = "The seed --task's examples are drawn with (the experiment's seed)", DefaultValueFactory = _ => 1 };
        var maxNewTokens = new Option<int>("--max-new-tokens") { Description = "Tokens to generate at most per example (eval.max_new_tokens)", DefaultValueFactory = _ => 32 };
        var dtype = new Option<string>("--dtype") { Description = "Compute dtype", DefaultValueFactory = _ => "fp32" };
        dtype.AcceptOnlyFromAmong("fp32", "bf16");
        var output = new Option<string?>("--out") { Description = "Where to write the record (default: evals/<model>-<task or file>-<utc time>.json beside the model folder)" };
        var json = new Option<bool>("--json") { Description = "Print the record (with its path as \"record\") as one JSON object" };
        var command = new Command("eval", "Evaluate a model folder or checkpoint and write a traceable evaluation record")
        {
            model, task, parameters, evalFile, examples, seed, maxNewTokens, dtype, output, json,
        };
        command.SetAction(parse => Execute(new Request(parse.GetValue(model)!, parse.GetValue(task), parse.GetValue(parameters),
            parse.GetValue(evalFile), parse.GetValue(examples), parse.GetValue(seed), parse.GetValue(maxNewTokens), parse.GetValue(dtype)!,
            parse.GetValue(output), parse.GetValue(json)), cli));
        return command;
    }

    sealed record Request(string Model, string? Task, string? TaskParameters, string? EvalFile, int Examples, int Seed,
        int MaxNewTokens, string DType, string? Out, bool Json);

    static int Execute(Request r, CliContext cli)
    {
        int Usage(string message)
        {
            cli.Stderr.WriteLine($"error: eval: {message}");
            return ExitCodes.Usage;
        }

        if (r.Task is null == r.EvalFile is null) return Usage("give exactly one of --task and --eval-file");
        if (r.TaskParameters is not null && r.Task is null) return Usage("--task-parameters goes with --task");
        if (r.MaxNewTokens <= 0) return Usage($"--max-new-tokens must be > 0 (got {r.MaxNewTokens})");
        if (r.Examples <= 0) return Usage($"--examples must be > 0 (got {r.Examples})");
        var folder = Path.TrimEndingDirectorySeparator(Path.GetFullPath(r.Model));
        if (!Directory.Exists(folder)) return Usage($"--model: folder '{folder}' does not exist");

        string configFolder, tokenizerFolder;
        SortedDictionary<string, string> files;
        try
        {
            configFolder = ModelFolders.ConfigFolder(folder);
            tokenizerFolder = ModelFolders.TokenizerFolder(folder, TokenizerFiles.FolderFiles);
            // Hashing verifies a checkpoint against its manifest first: a changed file is refused, never scored.
            files = ModelFolderDigest.Compute(folder);
            if (configFolder != folder) ModelFolderDigest.VerifyIfCheckpoint(configFolder);
        }
        catch (InvalidDataException e) { return Usage($"--model: {e.Message}"); }
        if (!File.Exists(Path.Combine(configFolder, HfModelFolder.ConfigFile)))
            return Usage($"--model: '{folder}' has no config.json (not a model folder) and no adapter_config.json (not a PEFT adapter folder)");
        if (!TokenizerFiles.FolderHasTokenizer(tokenizerFolder))
            return Usage($"--model: '{tokenizerFolder}' has no tokenizer (tokenizer.json, or a checkpoint's {TokenizerFiles.CharMarkerFileName})");

        EvalExamples data;
        try
        {
            data = r.Task is not null
                ? EvalExamples.FromTask(r.Task, ParseParameters(r.TaskParameters), r.Seed, r.Examples)
                : EvalExamples.FromFile(r.EvalFile!, tokenizerFolder);
        }
        catch (FormatException e) { return Usage($"--task-parameters: {e.Message}"); }
        catch (ArgumentException e) { return Usage($"--task: {e.Message.Split(" (Parameter")[0]}"); }
        catch (Exception e) when (e is InvalidDataException or IOException or InvalidOperationException) { return Usage($"{(r.Task is null ? "--eval-file" : "--task")}: {e.Message}"); }

        var isCheckpoint = File.Exists(Path.Combine(folder, CheckpointManifest.FileName));
        var created = DateTimeOffset.UtcNow;
        var outPath = Path.GetFullPath(r.Out ?? DefaultOut(folder, data.Data, created));
        EvalResult result;
        var progress = new CountProgress(cli.Stdout, cli.StdoutIsTerminal && !r.Json, $"evaluating {Path.GetFileName(folder)}:");
        try
        {
            using var evaluator = PolicyEvaluator.FromFolder(folder, tokenizerFolder, r.DType, verified: true);
            result = evaluator.Evaluate(data.Examples, data.Verifier, r.MaxNewTokens, progress.Report);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or ArgumentException or InvalidOperationException
                                       or System.Runtime.InteropServices.ExternalException or OutOfMemoryException)
        {
            progress.Finish();
            cli.Stderr.WriteLine($"error: eval failed: {e.Message}");
            return ExitCodes.Failed;
        }
        progress.Finish();

        var record = new EvaluationRecord
        {
            CreatedUtc = created,
            Model = new EvalModel
            {
                Path = folder,
                Kind = isCheckpoint ? EvalModel.CheckpointKind : ModelFolders.IsAdapterFolder(folder) ? EvalModel.PeftAdapterKind : EvalModel.HfFolderKind,
                Digest = ModelFolderDigest.Combined(files),
                Files = files,
                Step = isCheckpoint ? CheckpointReader.Verify(folder).Step : null,
            },
            Data = data.Data,
            Sampling = new EvalSampling { MaxNewTokens = r.MaxNewTokens },
            Scores = new EvalScores { Accuracy = result.Accuracy, Correct = result.Correct, Examples = result.Examples },
            Code = new EvalCode { Version = CodeVersions.Code, TorchSharp = CodeVersions.TorchSharp },
            Seconds = result.Seconds,
        };
        try { record.Write(outPath); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return Usage($"--out: cannot write {outPath}: {e.Message}"); }

        if (r.Json)
        {
            var node = JsonNode.Parse(record.ToJson())!.AsObject();
            node["record"] = outPath;
            cli.Stdout.WriteLine(node.ToJsonString());
        }
        else
        {
            var what = data.Data.Task is { } t ? $"task {t} ({string.Join(", ", data.Data.TaskParameters!.Select(p => $"{p.Key}={p.Value}"))}), seed {r.Seed}" : data.Data.EvalFile;
            cli.Stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"accuracy {result.Accuracy:0.###} ({result.Correct}/{result.Examples}) on {what}, in {result.Seconds:0.0} s"));
            cli.Stdout.WriteLine($"  model {folder} sha256 {record.Model.Digest}");
            cli.Stdout.WriteLine($"  data sha256 {data.Data.Digest}");
            cli.Stdout.WriteLine($"  record {outPath}");
        }
        return ExitCodes.Ok;
    }

    /// <summary><c>k=v[,k=v]</c> with integer values; a malformed pair is a <see cref="FormatException"/> naming it.</summary>
    static Dictionary<string, int> ParseParameters(string? text)
    {
        var result = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        if (string.IsNullOrWhiteSpace(text)) return result;
        foreach (var pair in text.Split(',', StringSplitOptions.TrimEntries))
        {
            var at = pair.IndexOf('=');
            if (at <= 0 || !int.TryParse(pair[(at + 1)..].Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value))
                throw new FormatException($"'{pair}' is not name=integer (e.g. digits=3)");
            if (!result.TryAdd(pair[..at].Trim(), value)) throw new FormatException($"'{pair[..at].Trim()}' is given more than once");
        }
        return result;
    }

    /// <summary><c>&lt;parent&gt;/evals/&lt;model folder&gt;-&lt;task or file stem&gt;-&lt;UTC time&gt;.json</c>: beside the
    /// model folder (see the remarks), named so that a listing sorts a model's evaluations by time.</summary>
    static string DefaultOut(string folder, EvalData data, DateTimeOffset created)
    {
        var parent = Path.GetDirectoryName(folder) ?? folder;
        var what = data.Task ?? Path.GetFileNameWithoutExtension(data.EvalFile!);
        return Path.Combine(parent, "evals", $"{Path.GetFileName(folder)}-{what}-{created.UtcDateTime.ToString("yyyyMMdd'T'HHmmssfff'Z'", CultureInfo.InvariantCulture)}.json");
    }
}
