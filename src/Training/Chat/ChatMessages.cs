using System.Text.Json.Nodes;

namespace RlhfActors.Training.Chat;

/// <summary>The shape every conversation must have before a template sees it: a non-empty list of objects with a
/// string "role" and a "content" that is a string (or null, for an assistant turn holding only tool_calls).</summary>
public static class ChatMessages
{
    /// <summary>Why <paramref name="messages"/> is malformed ("messages[2].role is missing"), or null.</summary>
    public static string? Check(JsonArray messages, string field = "messages")
    {
        if (messages.Count == 0) return $"'{field}' is empty";
        for (int i = 0; i < messages.Count; i++)
        {
            if (messages[i] is not JsonObject message) return $"{field}[{i}] must be an object";
            if (message["role"] is not JsonValue role || !role.TryGetValue<string>(out _)) return $"{field}[{i}].role must be a string";
            var content = message["content"];
            bool toolCallsOnly = content is null && message["tool_calls"] is JsonArray;
            if (!toolCallsOnly && (content is not JsonValue text || !text.TryGetValue<string>(out _)))
                return $"{field}[{i}].content must be a string";
        }
        return null;
    }

    public static string Role(JsonNode? message) => (string)message!["role"]!;
}
