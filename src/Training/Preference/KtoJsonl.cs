using System.Text.Json.Nodes;
using RlhfActors.Training.Chat;
using RlhfActors.Training.Data;
using RlhfActors.Training.RewardModeling;

namespace RlhfActors.Training.Preference;

/// <summary>
/// Reads KTO's training examples from JSONL, one object per line, in TRL's unpaired preference form:
/// <list type="bullet">
/// <item>standard: <c>{"prompt": "2+3=", "completion": "5", "label": true}</c>;</item>
/// <item>conversational: <c>{"prompt": [messages], "completion": [messages], "label": false}</c>, rendered with the
/// model's chat template as a preference is.</item>
/// </list>
/// or a file of pairs in any of <see cref="PreferenceJsonl"/>'s forms, unpaired as TRL's KTOTrainer unpairs a paired
/// dataset (<see cref="KtoBatch.Unpair"/>). The first line decides which (TRL too reads one form per dataset); a line
/// of the other form is refused. Errors as <see cref="PreferenceJsonl"/>'s: the first bad line throws
/// InvalidDataException "path:LINE: why" naming the field, and nothing is returned.
/// </summary>
public static class KtoJsonl
{
    public static IReadOnlyList<KtoExample> ReadExamples(string path, JsonlLimits? limits = null, bool charTokenizer = false,
        ChatTemplate? template = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        var examples = new List<KtoExample>();
        var pairs = new List<PreferencePair>();
        bool? paired = null;
        foreach (var (number, line) in JsonlLines.Read(path, limits ?? JsonlLimits.Default))
        {
            var at = new JsonlLineReader(path, number);
            var root = at.Object(line);
            bool isPair = !root.ContainsKey("completion") && !root.ContainsKey("label");
            paired ??= isPair;
            if (paired != isPair)
                throw at.Error(paired.Value
                    ? "an unpaired example ('completion', 'label') in a file of pairs: use one form per file"
                    : "a pair ('chosen', 'rejected') in a file of unpaired examples: use one form per file");
            if (isPair) pairs.Add(PreferenceJsonl.ParsePair(root, at, template, charTokenizer));
            else examples.Add(Unpaired(root, at, template, charTokenizer));
        }
        if (paired is null) throw new InvalidDataException($"{path}: no examples (the file is empty or blank)");
        return paired.Value ? KtoBatch.Unpair(pairs) : examples;
    }

    static KtoExample Unpaired(JsonObject root, JsonlLineReader at, ChatTemplate? template, bool charTokenizer)
    {
        bool label = at.Bool(root, "label");
        string prompt, completion;
        if (root["completion"] is JsonArray)
        {
            var (messages, reply) = (at.Messages(root, "prompt"), at.Messages(root, "completion"));
            if (template is null) throw at.Error("a conversational example needs the model's chat template, and its tokenizer folder has none");
            try
            {
                var rendered = ChatExamples.FromPromptAndCompletion(template, messages, reply);
                (prompt, completion) = (rendered.Prompt, rendered.Completion);
            }
            catch (ChatTemplateException e) { throw at.Error($"chat template ({template.Origin}): {e.Message}"); }
        }
        else (prompt, completion) = (at.String(root, "prompt"), at.String(root, "completion"));
        if (charTokenizer) PreferenceJsonl.CheckCharacters(at, ("prompt", prompt), ("completion", completion));
        return new KtoExample(prompt, completion, label);
    }
}
