using System.Text.Json;

namespace RlhfActors.Training.Tokenization;

/// <summary>Reads typed fields of a JSON file and throws InvalidDataException naming the file and the field's
/// path (e.g. "model.merges[3]") when one is missing or of the wrong kind.</summary>
sealed class JsonFieldReader(string file)
{
    public string File { get; } = file;

    public InvalidDataException Error(string field, string why) => new($"{File}: field '{field}' {why}");

    public JsonElement? Optional(JsonElement parent, string name) =>
        parent.ValueKind == JsonValueKind.Object && parent.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null
            ? value
            : null;

    public JsonElement Require(JsonElement parent, string name, string field, JsonValueKind kind) =>
        Optional(parent, name) is { } value ? Expect(value, field, kind) : throw Error(field, "is missing");

    public JsonElement Expect(JsonElement value, string field, JsonValueKind kind) =>
        value.ValueKind == kind ? value : throw Error(field, $"must be {Describe(kind)}, found {Describe(value.ValueKind)}");

    public string String(JsonElement value, string field) => Expect(value, field, JsonValueKind.String).GetString()!;

    public int Int(JsonElement value, string field) =>
        Expect(value, field, JsonValueKind.Number).TryGetInt32(out var n) ? n : throw Error(field, $"must be a 32-bit integer, found {value}");

    public bool Bool(JsonElement parent, string name, string field, bool defaultValue) => Optional(parent, name) switch
    {
        null => defaultValue,
        { ValueKind: JsonValueKind.True } => true,
        { ValueKind: JsonValueKind.False } => false,
        { } other => throw Error(field, $"must be true or false, found {Describe(other.ValueKind)}"),
    };

    static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => kind.ToString(),
    };

    /// <summary>Parses a whole file, turning a syntax error into InvalidDataException naming the file.</summary>
    public static JsonDocument ParseFile(string file)
    {
        // The stream overload skips a UTF-8 byte-order mark, which some editors write.
        using var stream = System.IO.File.OpenRead(file);
        try { return JsonDocument.Parse(stream); }
        catch (JsonException e) { throw new InvalidDataException($"{file}: not valid JSON: {e.Message}", e); }
    }
}
