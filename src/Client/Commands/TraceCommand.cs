using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using RlhfActors.Training.Evaluation;

namespace RlhfActors.Client.Commands;

/// <summary>
/// <c>rlhf trace &lt;record-or-checkpoint&gt; [--json]</c>: prints where a score came from. An evaluation record
/// (<see cref="EvaluationRecord"/>): the score ← its examples (the eval file's SHA-256, or the task's examples drawn
/// again) ← the model (its digest against the folder it names; a run's policy version through the checkpoint of its
/// step) ← that checkpoint's lineage as <c>rlhf verify</c> prints it (run config, datasets, initial model, earlier runs).
/// A checkpoint or run folder: its lineage, by the same code as <c>rlhf verify</c>. Exit 0 when every digest matches,
/// 1 when one does not (the changed file is named), 2 for a path that is neither.
/// </summary>
public static class TraceCommand
{
    public static Command Create(CliContext cli)
    {
        var source = new Argument<string>("source") { Description = "An evaluation record (JSON), a checkpoint folder or a run folder" };
        var json = new Option<bool>("--json") { Description = "Print the lineage as one JSON object" };
        var command = new Command("trace", "Print an evaluation's or checkpoint's lineage, checked by digest") { source, json };
        command.SetAction(parse => Execute(parse.GetValue(source)!, parse.GetValue(json), cli));
        return command;
    }

    static int Execute(string source, bool json, CliContext cli)
    {
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(source));
        if (Directory.Exists(full)) return VerifyCommand.Execute(full, json, cli, "trace");
        if (!File.Exists(full))
        {
            cli.Stderr.WriteLine($"error: trace: {full} does not exist");
            return ExitCodes.Usage;
        }
        EvaluationRecord record;
        try { record = EvaluationRecord.Read(full); }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            cli.Stderr.WriteLine($"error: trace: {e.Message}");
            return ExitCodes.Usage;
        }
        var trace = EvaluationTrace.Of(record);
        if (json) cli.Stdout.WriteLine(ToJson(full, trace).ToJsonString());
        else Print(full, trace, cli.Stdout);
        if (!trace.Intact) cli.Stderr.WriteLine("error: trace: the record's lineage does not match what its paths hold now (see above)");
        return trace.Intact ? ExitCodes.Ok : ExitCodes.Failed;
    }

    static void Print(string path, EvaluationTrace trace, TextWriter output)
    {
        var r = trace.Record;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{path}: accuracy {r.Scores.Accuracy:0.###} ({r.Scores.Correct}/{r.Scores.Examples}), {r.CreatedUtc.UtcDateTime:yyyy-MM-dd HH:mm:ss}Z, code {r.Code.Version}"));
        output.WriteLine($"  greedy, at most {r.Sampling.MaxNewTokens} new tokens");
        var data = r.Data.Task is { } task
            ? $"task {task} ({string.Join(", ", r.Data.TaskParameters?.Select(p => $"{p.Key}={p.Value}") ?? [])}), seed {r.Data.Seed}, {r.Data.Examples} examples"
            : $"eval file {r.Data.EvalFile}";
        output.WriteLine($"  ← data {data} sha256 {r.Data.Digest}: {Show(trace.Data)}");
        var model = r.Model.Kind == EvalModel.PolicyVersionKind
            ? $"policy version {r.Model.PolicyVersion} (step {r.Model.Step}) of run {r.Model.Path}, weights sha256 {r.Model.Digest}; checkpoint {trace.Model.Path ?? "(none)"}"
            : $"{r.Model.Kind} {r.Model.Path}{(r.Model.Step is { } step ? $" (step {step})" : "")} sha256 {r.Model.Digest}";
        output.WriteLine($"  ← model {model}: {Show(trace.Model)}");
        if (trace.LineageError is { } error) output.WriteLine($"    lineage: {error}");
        if (trace.Lineage is { } lineage) VerifyCommand.Print(lineage, "    ", output);
    }

    static string Show(TraceLink link) => link.Changed.Count > 0 ? $"{link.State}: {string.Join(", ", link.Changed)}" : link.State;

    static JsonObject ToJson(string path, EvaluationTrace trace)
    {
        var record = JsonNode.Parse(trace.Record.ToJson())!.AsObject();
        // The per-file map is the model link's detail; the record's digest stands for it here.
        if (record["model"] is JsonObject model) model.Remove("files");
        return new JsonObject
        {
            ["record"] = path,
            ["intact"] = trace.Intact,
            ["evaluation"] = record,
            ["data"] = Link(trace.Data),
            ["model"] = Link(trace.Model),
            ["lineage_error"] = trace.LineageError,
            ["lineage"] = trace.Lineage is null ? null : VerifyCommand.ToJson(trace.Lineage),
        };
    }

    static JsonObject Link(TraceLink link) => new()
    {
        ["path"] = link.Path,
        ["state"] = link.State,
        ["changed"] = new JsonArray([.. link.Changed.Select(c => (JsonNode)JsonValue.Create(c)!)]),
    };
}
