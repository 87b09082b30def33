using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace RlhfActors.Training.Metrics;

/// <summary>
/// One line of a run's <c>metrics.jsonl</c>: where the run was (global policy step, stage, time, seconds since the
/// run started, policy version) and the figures the stage computed there, flat, under the names of
/// <see cref="MetricNames"/>. A figure that was not computed at that step is absent (never 0 or null), so a chart
/// of it has no false points. One line per (stage, step): an evaluation taken at a step lands on that step's line.
/// </summary>
public sealed record MetricsLine(int Step, string Stage, DateTimeOffset Time, double WallSeconds, long PolicyVersion,
    IReadOnlyDictionary<string, double> Values)
{
    static readonly HashSet<string> Fixed = ["step", "stage", "time", "wall_s", "policy_version"];

    public double? this[string name] => Values.TryGetValue(name, out var value) ? value : null;

    /// <summary>One JSON object on one line; non-finite figures are left out (JSON has no NaN).</summary>
    public string ToJson()
    {
        var json = new JsonObject
        {
            ["step"] = Step,
            ["stage"] = Stage,
            ["time"] = Time.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture),
            ["wall_s"] = Math.Round(WallSeconds, 3),
            ["policy_version"] = PolicyVersion,
        };
        foreach (var (name, value) in Values)
            if (double.IsFinite(value) && !Fixed.Contains(name)) json[name] = value;
        return json.ToJsonString();
    }

    /// <summary>Reads one line; <paramref name="where"/> (file:line) names it in the error.</summary>
    public static MetricsLine Parse(string line, string where)
    {
        JsonObject json;
        try
        {
            json = JsonNode.Parse(line) as JsonObject ?? throw new InvalidDataException($"{where}: not a JSON object");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{where}: not JSON ({e.Message})");
        }
        var values = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var (name, node) in json)
            if (!Fixed.Contains(name) && node is JsonValue v && v.TryGetValue<double>(out var number))
                values[name] = number;
        try
        {
            return new MetricsLine(
                json["step"]!.GetValue<int>(),
                json["stage"]?.GetValue<string>() ?? "",
                json["time"] is { } time ? DateTimeOffset.Parse(time.GetValue<string>(), CultureInfo.InvariantCulture) : default,
                json["wall_s"]?.GetValue<double>() ?? 0,
                json["policy_version"]?.GetValue<long>() ?? 0,
                values);
        }
        catch (Exception e) when (e is NullReferenceException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{where}: a metrics line needs step (a whole number), stage, time, wall_s, policy_version ({e.Message})");
        }
    }
}
