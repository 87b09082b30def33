using System.Globalization;
using System.Text.Json;
using RlhfActors.Abstractions;
using RlhfActors.Abstractions.Experiments;
using RlhfActors.Abstractions.Grains;

namespace RlhfActors.Client.Commands;

/// <summary>Every experiment the cluster's directory knows, with its state and, once completed, its result: what
/// <c>rlhf list</c> prints and <c>rlhf cluster</c> prints under the silos.</summary>
static class ExperimentListing
{
    public sealed record Entry(ExperimentStatus Status, ExperimentResult? Result);

    public static async Task<IReadOnlyList<Entry>> ReadAsync(IClusterClient client)
    {
        var ids = await client.GetGrain<IExperimentDirectoryGrain>(GrainKeys.ExperimentDirectory).List();
        return await Task.WhenAll(ids.Select(async id =>
        {
            var experiment = client.GetGrain<IExperimentGrain>(id);
            var status = await experiment.GetStatus();
            var result = status.State is ExperimentState.Completed ? await experiment.GetResult() : null;
            return new Entry(status, result);
        }));
    }

    public static void WriteText(TextWriter output, IReadOnlyList<Entry> entries)
    {
        if (entries.Count == 0)
        {
            output.WriteLine("no experiments (start one with `rlhf run <experiment.yaml> --detach --cluster …`)");
            return;
        }
        static string F(double v) => (100 * v).ToString("F1", CultureInfo.InvariantCulture) + "%";
        foreach (var (s, r) in entries)
        {
            var line = $"{s.ExperimentId}  {s.Algorithm}  {StatusFormat.StateName(s.State)}  step {s.Step}/{s.TotalSteps}";
            if (r is not null) line += $"  accuracy {F(r.AccuracyBefore)} → {F(r.AccuracyAfter)}  policy v{r.PolicyVersion}  checkpoint {r.CheckpointPath}";
            else if (s.Error is { } error) line += $"  ({error})";
            output.WriteLine(line);
        }
    }

    public static void WriteJson(Utf8JsonWriter w, IReadOnlyList<Entry> entries)
    {
        w.WriteStartArray("experiments");
        foreach (var (s, r) in entries)
        {
            w.WriteStartObject();
            w.WriteString("experiment", s.ExperimentId);
            w.WriteString("algorithm", s.Algorithm);
            w.WriteString("state", StatusFormat.StateName(s.State));
            w.WriteNumber("step", s.Step);
            w.WriteNumber("total_steps", s.TotalSteps);
            w.WriteNumber("policy_version", s.PolicyVersion);
            if (s.Error is { } error) w.WriteString("error", error);
            if (r is not null)
            {
                w.WriteStartObject("result");
                Number(w, "accuracy_before", r.AccuracyBefore);
                Number(w, "accuracy_after", r.AccuracyAfter);
                w.WriteNumber("steps", r.Steps);
                w.WriteNumber("wall_s", Math.Round(r.WallSeconds, 3));
                w.WriteNumber("policy_version", r.PolicyVersion);
                w.WriteString("checkpoint", r.CheckpointPath);
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    static void Number(Utf8JsonWriter w, string name, double value)
    {
        if (double.IsFinite(value)) w.WriteNumber(name, value);
        else w.WriteNull(name);
    }
}
