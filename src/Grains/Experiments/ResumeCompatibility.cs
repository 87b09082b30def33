using System.Text.Json.Nodes;
using RlhfActors.Abstractions.Config;
using RlhfActors.Grains.Specs;

namespace RlhfActors.Grains.Experiments;

/// <summary>
/// Whether a config may continue from a checkpoint: the checkpoint's manifest records the config it was trained with
/// (<c>config_json</c>, <see cref="Digests.ConfigToJson"/>); resuming under any other settings would silently make a
/// run neither config describes, so every difference is refused, each named with both values.
/// </summary>
public static class ResumeCompatibility
{
    public static void ThrowIfDifferent(string checkpoint, ExperimentConfig config)
    {
        var manifestPath = Path.Combine(checkpoint, "manifest.json");
        string? recorded;
        try
        {
            recorded = JsonNode.Parse(File.ReadAllText(manifestPath))?["provenance"]?["config_json"]?.GetValue<string>();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Text.Json.JsonException or InvalidOperationException)
        {
            throw new ArgumentException($"{manifestPath}: cannot be read ({e.Message}); the run cannot resume from {Path.GetFileName(checkpoint)}");
        }
        if (recorded is null) throw new ArgumentException($"{manifestPath}: records no config_json; the run cannot resume from {Path.GetFileName(checkpoint)}");

        var then = Flatten(JsonNode.Parse(recorded));
        var now = Flatten(JsonNode.Parse(Digests.ConfigToJson(config)));
        var differences = then.Keys.Union(now.Keys).Order(StringComparer.Ordinal)
            .Where(key => then.GetValueOrDefault(key) != now.GetValueOrDefault(key))
            .Select(key => $"{key}: {then.GetValueOrDefault(key) ?? "(unset)"} in {Path.GetFileName(checkpoint)}, {now.GetValueOrDefault(key) ?? "(unset)"} now")
            .ToList();
        if (differences.Count > 0)
            throw new ArgumentException($"the config differs from the one {Path.GetFileName(checkpoint)} was trained with: {string.Join("; ", differences)}");
    }

    /// <summary>Leaf values by dotted path (<c>sft.learning_rate</c>), as JSON text.</summary>
    static Dictionary<string, string> Flatten(JsonNode? node, string prefix = "", Dictionary<string, string>? into = null)
    {
        into ??= new Dictionary<string, string>(StringComparer.Ordinal);
        switch (node)
        {
            case JsonObject obj:
                foreach (var (key, value) in obj) Flatten(value, prefix.Length == 0 ? key : $"{prefix}.{key}", into);
                break;
            case JsonArray array:
                for (var i = 0; i < array.Count; i++) Flatten(array[i], $"{prefix}[{i}]", into);
                break;
            default:
                into[prefix] = node?.ToJsonString() ?? "null";
                break;
        }
        return into;
    }
}
