using System.Text.Json;
using System.Text.Json.Nodes;
using RlhfActors.Training.Chat;

namespace RlhfActors.Training.Data;

/// <summary>Reads the fields of one JSONL line (TRL's dataset forms); every error names the file and the 1-based line
/// number.</summary>
internal sealed class JsonlLineReader(string path, long line)
{
    public InvalidDataException Error(string why) => new($"{path}:{line}: {why}");

    /// <summary>The line as a JSON object.</summary>
    public JsonObject Object(string text)
    {
        JsonNode? node;
        try { node = JsonNode.Parse(text); }
        catch (JsonException e) { throw Error($"not valid JSON: {e.Message}"); }
        return node as JsonObject ?? throw Error($"expected a JSON object, found {node?.GetValueKind().ToString() ?? "null"}");
    }

    public string String(JsonObject parent, string name)
    {
        if (!parent.TryGetPropertyValue(name, out var value)) throw Error($"field '{name}' is missing");
        if (value is not JsonValue text || !text.TryGetValue<string>(out var result))
            throw Error($"field '{name}' must be a string, found {value?.GetValueKind().ToString() ?? "null"}");
        return result;
    }

    public bool Bool(JsonObject parent, string name)
    {
        if (!parent.TryGetPropertyValue(name, out var value)) throw Error($"field '{name}' is missing");
        if (value is not JsonValue flag || !flag.TryGetValue<bool>(out var result))
            throw Error($"field '{name}' must be true or false, found {value?.GetValueKind().ToString() ?? "null"}");
        return result;
    }

    public JsonArray Messages(JsonObject parent, string name)
    {
        if (!parent.TryGetPropertyValue(name, out var value)) throw Error($"field '{name}' is missing");
        if (value is not JsonArray messages) throw Error($"field '{name}' must be an array of messages, found {value?.GetValueKind().ToString() ?? "null"}");
        return ChatMessages.Check(messages, name) is { } why ? throw Error(why) : messages;
    }
}
