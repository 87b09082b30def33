using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;
using RlhfActors.Abstractions.Config;

namespace RlhfActors.Grains.Specs;

/// <summary>Hashes recorded as checkpoint provenance.</summary>
public static class Digests
{
    /// <summary>
    /// The whole config as canonical JSON: every stored field of every section, defaults included, under its YAML key
    /// (snake_case, or the record's <c>[JsonPropertyName]</c> where the YAML key differs), model.config as an object,
    /// object keys sorted at every level. Written by reflection over the records, so a field added to any section is
    /// in the hash without anyone remembering to list it (the old hand-written list missed every stage section).
    /// Leaves out output_dir and the source file name: where a run writes, and which file described it, do not
    /// change what it trains. Recorded in checkpoints next to its hash.
    /// </summary>
    public static string ConfigToJson(ExperimentConfig c)
    {
        var node = JsonSerializer.SerializeToNode(c, CanonicalOptions)!.AsObject();
        var model = node["model"]!.AsObject();
        if (model["config"] is JsonValue text) model["config"] = JsonNode.Parse(text.GetValue<string>());
        return Sorted(node)!.ToJsonString();
    }

    /// <summary>SHA-256 of <see cref="ConfigToJson"/>: the same settings hash the same whichever file (or code)
    /// they came from.</summary>
    public static string ConfigSha256(ExperimentConfig config) => Sha256(ConfigToJson(config));

    static string Sha256(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    /// <summary>Fields that do not change what a run trains.</summary>
    static readonly HashSet<string> NotTraining = [nameof(ExperimentConfig.OutputDir), nameof(ExperimentConfig.SourceFile)];

    static readonly JsonSerializerOptions CanonicalOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        // Doubles as the shortest round-trip text; NaN and infinities cannot reach here (validation), but a config
        // built in code must still hash rather than throw.
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
        TypeInfoResolver = new DefaultJsonTypeInfoResolver { Modifiers = { StoredFieldsOnly } },
        // Enums by their YAML names (ConfigNames): "dr_grpo", not 2.
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower, allowIntegerValues: true) },
    };

    /// <summary>Keeps the records' stored fields (those with an init accessor) and drops computed ones
    /// (<c>IsGrpo</c>, <c>TotalSteps</c>, <c>ResolvedTokenizer</c>), which are functions of the stored ones.</summary>
    static void StoredFieldsOnly(JsonTypeInfo type)
    {
        if (type.Kind != JsonTypeInfoKind.Object) return;
        for (var i = type.Properties.Count - 1; i >= 0; i--)
        {
            var member = type.Properties[i].AttributeProvider as PropertyInfo;
            var computed = member is null || member.SetMethod is null;
            var excluded = type.Type == typeof(ExperimentConfig) && member is not null && NotTraining.Contains(member.Name);
            if (computed || excluded) type.Properties.RemoveAt(i);
        }
    }

    /// <summary>Orders every object's keys, in place: the tree was just built for this and is not shared.</summary>
    static JsonNode? Sorted(JsonNode? node)
    {
        switch (node)
        {
            case JsonObject obj:
                var properties = obj.OrderBy(p => p.Key, StringComparer.Ordinal).ToList();
                obj.Clear();
                foreach (var (key, value) in properties) obj[key] = Sorted(value);
                break;
            case JsonArray array:
                foreach (var item in array) Sorted(item);
                break;
        }
        return node;
    }
}
