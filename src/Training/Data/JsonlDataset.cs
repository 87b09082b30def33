using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using RlhfActors.Training.Chat;
using RlhfActors.Training.Tokenization;

namespace RlhfActors.Training.Data;

/// <summary>
/// Reads supervised examples from JSONL in TRL's dataset forms, one JSON object per line:
/// <list type="bullet">
/// <item><c>{"text": "..."}</c> (language modelling: every token is learned);</item>
/// <item><c>{"prompt": "...", "completion": "..."}</c> (standard prompt-completion); <c>answer</c> or <c>solution</c>
/// is accepted in place of <c>completion</c>, as in RL prompt files with verifiable answers; any other field of the
/// line (<c>difficulty</c>, test cases, …) is kept for the reward functions (<see cref="PromptCompletion.Columns"/>);</item>
/// <item><c>{"prompt": [messages], "completion": [messages]}</c> (conversational prompt-completion), rendered with
/// the model's chat template (<see cref="ChatExamples.FromPromptAndCompletion"/>); with a string answer in place of
/// the completion messages (an RL prompt), the prompt ends in the template's generation prompt;</item>
/// <item><c>{"messages": [{"role": "...", "content": "..."}, …]}</c> (conversational). With a chat template every
/// assistant turn is learned and the rest is context (<see cref="ChatExamples.FromConversation"/>). Without one (the
/// character tokenizer, a base model's folder) the documented fallback: the completion is the last message, which
/// must be the assistant's, and the prompt renders every earlier message as a <c>"&lt;role&gt;: &lt;content&gt;\n"</c>
/// line ending with <c>"assistant: "</c>, e.g. <c>"system: Be brief.\nuser: 2+2?\nassistant: "</c> → <c>"4"</c>.</item>
/// </list>
/// Blank lines are skipped. The first malformed line throws InvalidDataException "path:LINE: why" and nothing
/// is returned, so a half-read dataset never trains silently. The file is read within <see cref="JsonlLimits"/> as
/// strict UTF-8 (<see cref="JsonlLines"/>). With <c>charTokenizer</c>, a character the built-in character tokenizer
/// cannot encode is an error at its line here, rather than a message without file or line when training encodes it.
/// </summary>
public static class JsonlDataset
{
    public static IReadOnlyList<PromptCompletion> ReadPromptCompletions(string path, JsonlLimits? limits = null, bool charTokenizer = false,
        ChatTemplate? template = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        var examples = new List<PromptCompletion>();
        foreach (var (number, line) in JsonlLines.Read(path, limits ?? JsonlLimits.Default))
        {
            var at = new JsonlLineReader(path, number);
            PromptCompletion example;
            try { example = ParseLine(line, at, template); }
            catch (ChatTemplateException e) { throw at.Error($"chat template ({template?.Origin}): {e.Message}"); }
            if (charTokenizer)
                foreach (var (field, text) in new[] { ("prompt", example.Prompt), ("completion", example.Completion) })
                    if (CharTokenizer.Unencodable(text) is { } why) throw at.Error($"{why} of field '{field}'");
            examples.Add(example);
        }
        if (examples.Count == 0) throw new InvalidDataException($"{path}: no examples (the file is empty or blank)");
        return examples;
    }

    static PromptCompletion ParseLine(string line, JsonlLineReader at, ChatTemplate? template)
    {
        var root = at.Object(line);
        var forms = new[] { "messages", "prompt", "text" }.Where(root.ContainsKey).ToArray();
        if (forms.Length != 1)
            throw at.Error(forms.Length == 0
                ? "has none of 'prompt', 'messages' and 'text'"
                : $"has both '{forms[0]}' and '{forms[1]}'; use one form");

        switch (forms[0])
        {
            case "text":
                return new PromptCompletion("", at.String(root, "text"));
            case "messages":
                var messages = at.Messages(root, "messages");
                return template is not null ? ChatExamples.FromConversation(template, messages) : FromMessages(messages, at);
        }
        var reference = ReferenceFields.FirstOrDefault(root.ContainsKey) ?? "completion";
        var columns = OtherColumns(root);
        if (root["prompt"] is JsonArray)
        {
            var prompt = at.Messages(root, "prompt");
            if (template is null) throw at.Error("a conversational prompt needs the model's chat template, and its tokenizer folder has none");
            if (root["completion"] is JsonArray) return ChatExamples.FromPromptAndCompletion(template, prompt, at.Messages(root, "completion")) with { Columns = columns };
            // An RL prompt with a verifiable answer: the prompt ends in the generation prompt; the answer is plain text.
            var answer = at.String(root, reference);
            return new PromptCompletion(ChatExamples.Prompt(template, prompt), answer) { Columns = columns };
        }
        return new PromptCompletion(at.String(root, "prompt"), at.String(root, reference)) { Columns = columns };
    }

    static readonly string[] ReferenceFields = ["completion", "answer", "solution"];

    /// <summary>A prompt line's fields beyond the prompt and its reference (TRL hands every dataset column to the reward
    /// functions): a compact JSON object, or null when there are none.</summary>
    static string? OtherColumns(JsonObject root)
    {
        var other = root.Where(p => p.Key != "prompt" && !ReferenceFields.Contains(p.Key)).ToArray();
        if (other.Length == 0) return null;
        return new JsonObject(other.Select(p => KeyValuePair.Create(p.Key, p.Value?.DeepClone()))).ToJsonString();
    }

    static PromptCompletion FromMessages(JsonArray messages, JsonlLineReader at)
    {
        var turns = messages.Select(m => (Role: ChatMessages.Role(m), Content: (string?)m!["content"] ?? "")).ToList();
        int lastAssistant = turns.FindLastIndex(t => t.Role == "assistant");
        if (lastAssistant < 0) throw at.Error("'messages' has no assistant turn to learn");
        if (lastAssistant != turns.Count - 1)
            throw at.Error($"'messages' must end with the assistant turn to learn; messages[{turns.Count - 1}] is '{turns[^1].Role}'");

        var prompt = new StringBuilder();
        foreach (var (role, content) in turns.Take(lastAssistant)) prompt.Append(role).Append(": ").Append(content).Append('\n');
        prompt.Append("assistant: ");
        return new PromptCompletion(prompt.ToString(), turns[lastAssistant].Content);
    }
}
