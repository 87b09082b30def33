using System.Text.Json.Nodes;
using RlhfActors.Training.Data;

namespace RlhfActors.Training.Chat;

/// <summary>
/// TRL's conversational dataset forms turned into text with a model's chat template, as TRL's SFTTrainer and
/// DPOTrainer do before tokenizing:
/// <list type="bullet">
/// <item>a prompt (RL, DPO): the template over the prompt's messages with add_generation_prompt;</item>
/// <item>prompt + completion messages: the completion is what the template renders after that prompt;</item>
/// <item>a whole conversation: every assistant turn is learned and every other turn is context (assistant_only_loss).
/// Each turn's span is found by rendering the conversation up to it: the text before an assistant turn is the
/// template's rendering of the earlier messages with the generation prompt, and the turn ends where the rendering
/// that includes it ends (its trailing whitespace left as context).</item>
/// </list>
/// A template whose rendering of a turn changes once later turns follow (Qwen3 drops earlier turns' reasoning)
/// cannot have its turns found this way; that is an error saying so, not a guess.
/// </summary>
public static class ChatExamples
{
    public static string Prompt(ChatTemplate template, JsonArray prompt) => template.Render(prompt, addGenerationPrompt: true);

    public static PromptCompletion FromPromptAndCompletion(ChatTemplate template, JsonArray prompt, JsonArray completion)
    {
        var promptText = Prompt(template, prompt);
        var all = new JsonArray([.. prompt.Select(m => m!.DeepClone()), .. completion.Select(m => m!.DeepClone())]);
        var full = template.Render(all, addGenerationPrompt: false);
        if (!full.StartsWith(promptText, StringComparison.Ordinal))
            throw new ChatTemplateException("the template renders the prompt differently once the completion follows it, so the completion cannot be cut off");
        return new PromptCompletion(promptText, full[promptText.Length..]) { Answer = LastAssistantContent(completion) };
    }

    public static PromptCompletion FromConversation(ChatTemplate template, JsonArray messages)
    {
        var assistantTurns = Enumerable.Range(0, messages.Count).Where(i => ChatMessages.Role(messages[i]) == "assistant").ToArray();
        if (assistantTurns.Length == 0) throw new ChatTemplateException("'messages' has no assistant turn to learn");
        var full = template.Render(messages, addGenerationPrompt: false);

        var spans = new List<(int Start, int End)>();
        foreach (var turn in assistantTurns)
        {
            var before = template.Render(Take(messages, turn), addGenerationPrompt: true);
            var through = template.Render(Take(messages, turn + 1), addGenerationPrompt: false);
            if (!full.StartsWith(before, StringComparison.Ordinal) || !full.StartsWith(through, StringComparison.Ordinal) || through.Length < before.Length)
                throw new ChatTemplateException(
                    $"the template renders assistant turn messages[{turn}] differently once later turns follow it, so its tokens cannot be found; " +
                    "give each turn to learn as its own prompt/completion example");
            int end = through.Length;
            while (end > before.Length && char.IsWhiteSpace(full[end - 1])) end--;
            spans.Add((before.Length, end));
        }

        var prompt = full[..spans[0].Start];
        var segments = new List<TextSegment>();
        int at = spans[0].Start;
        foreach (var (start, end) in spans)
        {
            if (start > at) segments.Add(new TextSegment(full[at..start], false));
            segments.Add(new TextSegment(full[start..end], true));
            at = end;
        }
        if (at < full.Length) segments.Add(new TextSegment(full[at..], false));
        return new PromptCompletion(prompt, full[spans[0].Start..])
        {
            Segments = segments,
            Answer = LastAssistantContent(messages),
        };
    }

    static JsonArray Take(JsonArray messages, int count) => new([.. messages.Take(count).Select(m => m!.DeepClone())]);

    static string? LastAssistantContent(JsonArray messages) =>
        messages.LastOrDefault(m => ChatMessages.Role(m) == "assistant")?["content"] is JsonValue content && content.TryGetValue<string>(out var text)
            ? text
            : null;
}
