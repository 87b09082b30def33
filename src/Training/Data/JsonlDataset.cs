using System.Text;
using System.Text.Json;
using RlhfActors.Training.Tokenization;

namespace RlhfActors.Training.Data;

/// <summary>
/// Reads supervised examples from JSONL with TRL's field names, one JSON object per line:
/// <list type="bullet">
/// <item><c>{"prompt": "...", "completion": "..."}</c> (standard prompt-completion); <c>answer</c> is accepted
/// in place of <c>completion</c>, as in RL prompt files with verifiable answers.</item>
/// <item><c>{"messages": [{"role": "...", "content": "..."}, …]}</c> (conversational). The completion is the last
/// message, which must be the assistant's; the prompt renders every earlier message as a
/// <c>"&lt;role&gt;: &lt;content&gt;\n"</c> line and ends with <c>"assistant: "</c>, e.g.
/// <c>"system: Be brief.\nuser: 2+2?\nassistant: "</c> → <c>"4"</c>. A plain rendering instead of a model's
/// chat template keeps the examples usable with the character tokenizer of the built-in models.</item>
/// </list>
/// Blank lines are skipped. The first malformed line throws InvalidDataException "path:LINE: why" and nothing
/// is returned, so a half-read dataset never trains silently. The file is read within <see cref="JsonlLimits"/> as
/// strict UTF-8 (<see cref="JsonlLines"/>). With <c>charTokenizer</c>, a character the built-in character tokenizer
/// cannot encode is an error at its line here, rather than a message without file or line when training encodes it.
/// </summary>
public static class JsonlDataset
{
    public static IReadOnlyList<PromptCompletion> ReadPromptCompletions(string path, JsonlLimits? limits = null, bool charTokenizer = false)
    {
        ArgumentNullException.ThrowIfNull(path);
        var examples = new List<PromptCompletion>();
        foreach (var (number, line) in JsonlLines.Read(path, limits ?? JsonlLimits.Default))
        {
            var at = new LineReader(path, number);
            var example = ParseLine(line, at);
            if (charTokenizer)
                foreach (var (field, text) in new[] { ("prompt", example.Prompt), ("completion", example.Completion) })
                    if (CharTokenizer.Unencodable(text) is { } why) throw at.Error($"{why} of field '{field}'");
            examples.Add(example);
        }
        if (examples.Count == 0) throw new InvalidDataException($"{path}: no examples (the file is empty or blank)");
        return examples;
    }

    static PromptCompletion ParseLine(string line, LineReader at)
    {
        JsonDocument document;
        try { document = JsonDocument.Parse(line); }
        catch (JsonException e) { throw at.Error($"not valid JSON: {e.Message}"); }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw at.Error($"expected a JSON object, found {root.ValueKind}");
            bool conversational = root.TryGetProperty("messages", out var messages);
            if (conversational && root.TryGetProperty("prompt", out _))
                throw at.Error("has both 'messages' and 'prompt'; use one form");
            if (conversational) return FromMessages(messages, at);

            var prompt = at.String(root, "prompt");
            var completion = root.TryGetProperty("completion", out _) || !root.TryGetProperty("answer", out _)
                ? at.String(root, "completion")
                : at.String(root, "answer");
            return new PromptCompletion(prompt, completion);
        }
    }

    static PromptCompletion FromMessages(JsonElement messages, LineReader at)
    {
        if (messages.ValueKind != JsonValueKind.Array) throw at.Error($"field 'messages' must be an array, found {messages.ValueKind}");
        var turns = new List<(string Role, string Content)>();
        int index = 0;
        foreach (var message in messages.EnumerateArray())
        {
            if (message.ValueKind != JsonValueKind.Object) throw at.Error($"messages[{index}] must be an object, found {message.ValueKind}");
            turns.Add((at.String(message, "role", $"messages[{index}]."), at.String(message, "content", $"messages[{index}].")));
            index++;
        }
        int lastAssistant = turns.FindLastIndex(t => t.Role == "assistant");
        if (lastAssistant < 0) throw at.Error("'messages' has no assistant turn to learn");
        if (lastAssistant != turns.Count - 1)
            throw at.Error($"'messages' must end with the assistant turn to learn; messages[{turns.Count - 1}] is '{turns[^1].Role}'");

        var prompt = new StringBuilder();
        foreach (var (role, content) in turns.Take(lastAssistant)) prompt.Append(role).Append(": ").Append(content).Append('\n');
        prompt.Append("assistant: ");
        return new PromptCompletion(prompt.ToString(), turns[lastAssistant].Content);
    }

    /// <summary>Reads fields of one line; every error names the file and the 1-based line number.</summary>
    sealed class LineReader(string path, long line)
    {
        public InvalidDataException Error(string why) => new($"{path}:{line}: {why}");

        public string String(JsonElement parent, string name, string prefix = "")
        {
            if (!parent.TryGetProperty(name, out var value)) throw Error($"field '{prefix}{name}' is missing");
            if (value.ValueKind != JsonValueKind.String) throw Error($"field '{prefix}{name}' must be a string, found {value.ValueKind}");
            return value.GetString()!;
        }
    }
}
