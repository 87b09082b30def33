using System.Text.Json;
using System.Text.Json.Nodes;

namespace RlhfActors.Training.Chat;

/// <summary>A JSON file holding a list of chat messages, each an object with string "role" and "content" (other
/// fields, such as tool_calls, pass through to the template). Errors name the file and the message's index.</summary>
public static class ChatMessagesFile
{
    public static JsonArray Read(string path)
    {
        if (!File.Exists(path)) throw new InvalidDataException($"{path}: no such file");
        JsonNode? root;
        try { root = JsonNode.Parse(File.ReadAllText(path)); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: not valid JSON: {e.Message}", e); }
        if (root is not JsonArray messages) throw new InvalidDataException($"{path}: expected a JSON list of {{\"role\", \"content\"}} messages");
        var why = ChatMessages.Check(messages);
        return why is null ? messages : throw new InvalidDataException($"{path}: {why}");
    }
}
