using System.Globalization;
using System.Text.Json;
using RlhfActors.Training.Http;

namespace RlhfActors.Training.Judging;

/// <summary>The OpenAI chat-completions wire format as <see cref="HttpChatJudge"/> uses it: the request body for one
/// presentation order, and the letter read back from <c>choices[0].message.content</c>.</summary>
static class ChatJudgeProtocol
{
    /// <summary>{"model", "messages": [system, user], "temperature", "max_tokens"}: the fields every
    /// OpenAI-compatible server (vLLM, TGI, llama.cpp, hosted APIs) understands.</summary>
    public static byte[] EncodeRequest(HttpChatJudgeOptions options, string prompt, string first, string second)
    {
        var user = string.Format(CultureInfo.InvariantCulture, HttpChatJudge.UserTemplate, prompt, first, second);
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("model", options.Model);
            json.WriteStartArray("messages");
            WriteMessage(json, "system", HttpChatJudge.SystemPrompt);
            WriteMessage(json, "user", user);
            json.WriteEndArray();
            json.WriteNumber("temperature", options.Temperature);
            json.WriteNumber("max_tokens", options.MaxTokens);
            json.WriteEndObject();
        }
        return buffer.ToArray();
    }

    static void WriteMessage(Utf8JsonWriter json, string role, string content)
    {
        json.WriteStartObject();
        json.WriteString("role", role);
        json.WriteString("content", content);
        json.WriteEndObject();
    }

    /// <summary>choices[0].message.content, null when the server sent none (a refusal, a filtered answer).
    /// A body without choices[0].message is a server bug: an InvalidDataException naming the endpoint, with any of
    /// <paramref name="secrets"/> the body quotes masked.</summary>
    public static string? ParseContent(string body, Uri endpoint, IReadOnlyList<string?> secrets)
    {
        string Excerpt() => ResponseBody.Excerpt(body, secrets);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"judge {endpoint} answered non-JSON ({Secrets.Redact(e.Message, secrets)}): {Excerpt()}", e);
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("choices", out var choices) || choices.ValueKind != JsonValueKind.Array || choices.GetArrayLength() == 0
                || choices[0].ValueKind != JsonValueKind.Object
                || !choices[0].TryGetProperty("message", out var message) || message.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException($"judge {endpoint} answered without choices[0].message: {Excerpt()}");
            if (!message.TryGetProperty("content", out var content) || content.ValueKind == JsonValueKind.Null) return null;
            if (content.ValueKind != JsonValueKind.String)
                throw new InvalidDataException($"judge {endpoint} answered choices[0].message.content as a JSON {content.ValueKind}: {Excerpt()}");
            return content.GetString();
        }
    }

    /// <summary>'A' or 'B' when the answer starts with that letter as a word, case-insensitive, after any leading
    /// whitespace, quotes, asterisks or brackets ("A", " b.", "**B**", "(A) because …"); otherwise null. Only the
    /// start is read: a letter further in is as likely the article "a" as a verdict.</summary>
    public static char? ParseChoice(string? content)
    {
        if (content is null) return null;
        int i = 0;
        while (i < content.Length && !char.IsLetterOrDigit(content[i])) i++;
        if (i == content.Length) return null;
        char letter = char.ToUpperInvariant(content[i]);
        if (letter is not ('A' or 'B')) return null;
        if (i + 1 < content.Length && char.IsLetterOrDigit(content[i + 1])) return null;
        return letter;
    }
}
