using System.Collections.Concurrent;
using System.Text.Json;

namespace RlhfActors.Abstractions.Config;

/// <summary>
/// The YAML spelling of the config's enums: each member's snake_case name (<c>DrGrpo</c> ⇄ <c>dr_grpo</c>,
/// <c>TruncatedIs</c> ⇄ <c>truncated_is</c>, <c>K3</c> ⇄ <c>k3</c>). The YAML loader, every message and the config's
/// canonical JSON use it, so a value is written the same way everywhere.
/// </summary>
public static class ConfigNames
{
    static readonly ConcurrentDictionary<Type, string[]> Names = new();

    /// <summary>The YAML name of <paramref name="value"/>.</summary>
    public static string Yaml<T>(this T value) where T : struct, Enum => JsonNamingPolicy.SnakeCaseLower.ConvertName(value.ToString());

    /// <summary>The YAML name of any config enum value, for messages that take any value.</summary>
    public static string Yaml(Enum value) => JsonNamingPolicy.SnakeCaseLower.ConvertName(value.ToString());

    /// <summary>Every YAML name of <typeparamref name="T"/>, in declaration order.</summary>
    public static IReadOnlyList<string> All<T>() where T : struct, Enum =>
        Names.GetOrAdd(typeof(T), _ => [.. Enum.GetValues<T>().Select(v => v.Yaml())]);

    /// <summary>The member whose YAML name is <paramref name="text"/> (exactly: names are lower case).</summary>
    public static bool TryParse<T>(string text, out T value) where T : struct, Enum
    {
        foreach (var candidate in Enum.GetValues<T>())
        {
            if (candidate.Yaml() != text) continue;
            value = candidate;
            return true;
        }
        value = default;
        return false;
    }

    /// <summary>"must be one of: a, b, c" for messages.</summary>
    public static string OneOf<T>() where T : struct, Enum => $"must be one of: {string.Join(", ", All<T>())}";

    /// <summary>For a mapping's default arm: a value no member names. Only a config built in code (a cast) gets there,
    /// and the validation refuses it first.</summary>
    public static ArgumentException Undefined(string field, Enum value) => new($"{field} is {value}, which is not one of its values");
}
