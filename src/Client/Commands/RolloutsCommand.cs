using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using RlhfActors.Training.Rollouts.Traces;

namespace RlhfActors.Client.Commands;

/// <summary>
/// <c>rlhf rollouts &lt;run&gt; [--step N] [--jsonl]</c>: the rollout traces a run wrote (<c>trace_rollouts</c>,
/// docs/rollout-traces.md), one row at a time: step, version, reward, prompt and completion for people, or with
/// <c>--jsonl</c> one JSON object per row holding every traced field. Reads the files only: no cluster needed, and
/// a run still writing them can be read (its record being written is not shown yet).
/// </summary>
public static class RolloutsCommand
{
    public static Command Create(CliContext cli)
    {
        var run = new Argument<string>("run") { Description = "The run's output_dir (holding rollouts/), or its rollouts/ folder" };
        var step = new Option<int?>("--step") { Description = "Only the batch(es) traced at this policy step" };
        var jsonl = new Option<bool>("--jsonl") { Description = "One JSON object per row, with ids and log-probs" };
        var command = new Command("rollouts", "Print a run's rollout traces (trace_rollouts)") { run, step, jsonl };
        command.SetAction(parse => Execute(cli, parse.GetValue(run)!, parse.GetValue(step), parse.GetValue(jsonl)));
        return command;
    }

    static int Execute(CliContext cli, string run, int? step, bool jsonl)
    {
        int Usage(string message)
        {
            cli.Stderr.WriteLine($"error: rollouts: {message}");
            return ExitCodes.Usage;
        }

        var path = Path.GetFullPath(run);
        if (!Directory.Exists(path)) return Usage($"'{path}' is not a folder (give a run's output_dir)");
        var folder = TraceFiles.List(path).Count > 0 ? path : TraceFiles.FolderIn(path);
        if (TraceFiles.List(folder).Count == 0)
            return Usage($"'{path}' holds no rollout traces ({TraceFiles.FolderName}/rollouts-*.msgpack): was the run started with trace_rollouts?");
        try
        {
            int rows = 0;
            foreach (var record in RolloutTraceReader.Read(folder))
            {
                if (step is { } wanted && record.Step != wanted) continue;
                for (int r = 0; r < record.Rows.Length; r++, rows++)
                    cli.Stdout.WriteLine(jsonl ? Json(record, r) : Text(record, r));
            }
            if (rows == 0 && step is { } missing) cli.Stderr.WriteLine($"no traced batch at step {missing}");
            return ExitCodes.Ok;
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            return Usage(e.Message);
        }
    }

    static string Text(RolloutTraceRecord record, int r)
    {
        var row = record.Rows[r];
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"step {record.Step} · {record.Stage} · version {record.PolicyVersion} · row {r}/{record.Rows.Length}");
        if (row.Sampler >= 0) text.Append(CultureInfo.InvariantCulture, $" · sampler {row.Sampler}");
        if (row.Reward is { } reward)
        {
            text.Append(CultureInfo.InvariantCulture, $" · reward {reward:0.####}");
            if (row.RewardComponents is { Count: > 0 } components)
                text.Append(" (").Append(string.Join(", ", components.Select(c => string.Create(CultureInfo.InvariantCulture, $"{c.Key} {c.Value:0.####}")))).Append(')');
        }
        if (row.Truncated) text.Append(" · truncated");
        text.Append('\n').Append("  prompt:     ").Append(Indent(row.Prompt));
        text.Append('\n').Append("  completion: ").Append(Indent(row.Completion));
        if (row.Reference is { } reference) text.Append('\n').Append("  reference:  ").Append(Indent(reference));
        return text.ToString();
    }

    /// <summary>Continuation lines under the first one's text.</summary>
    static string Indent(string text) => text.ReplaceLineEndings("\n              ");

    static string Json(RolloutTraceRecord record, int r)
    {
        var row = record.Rows[r];
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteNumber("step", record.Step);
            w.WriteString("stage", record.Stage);
            w.WriteNumber("policy_version", record.PolicyVersion);
            w.WriteNumber("group_size", record.GroupSize);
            w.WriteString("time", record.Time);
            w.WriteNumber("row", r);
            w.WriteNumber("sampler", row.Sampler);
            w.WriteString("prompt", row.Prompt);
            w.WriteString("completion", row.Completion);
            w.WriteString("reference", row.Reference);
            w.WriteBoolean("truncated", row.Truncated);
            Number(w, "reward", row.Reward);
            if (row.RewardComponents is { } components)
            {
                w.WriteStartObject("reward_components");
                foreach (var (name, value) in components) Number(w, name, value);
                w.WriteEndObject();
            }
            else w.WriteNull("reward_components");
            Array(w, "prompt_ids", row.PromptIds.Select(v => (double)v), integers: true);
            Array(w, "completion_ids", row.CompletionIds.Select(v => (double)v), integers: true);
            Array(w, "behaviour_logprobs", row.BehaviourLogProbs.Select(v => (double)v));
            if (row.ReferenceLogProbs is { } reference) Array(w, "reference_logprobs", reference.Select(v => (double)v));
            else w.WriteNull("reference_logprobs");
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>JSON has no NaN or infinity: such a figure is written as null.</summary>
    static void Number(Utf8JsonWriter w, string name, double? value)
    {
        if (value is { } v && double.IsFinite(v)) w.WriteNumber(name, v);
        else w.WriteNull(name);
    }

    static void Array(Utf8JsonWriter w, string name, IEnumerable<double> values, bool integers = false)
    {
        w.WriteStartArray(name);
        foreach (var v in values)
        {
            if (integers) w.WriteNumberValue((long)v);
            else if (double.IsFinite(v)) w.WriteNumberValue((float)v);
            else w.WriteNullValue();
        }
        w.WriteEndArray();
    }
}
