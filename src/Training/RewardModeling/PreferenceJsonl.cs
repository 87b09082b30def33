using System.Text.Json.Nodes;
using RlhfActors.Training.Chat;
using RlhfActors.Training.Data;
using RlhfActors.Training.Tokenization;

namespace RlhfActors.Training.RewardModeling;

/// <summary>A labelled pair and the score gap it demands (0 = plain Bradley–Terry; see <see cref="BradleyTerryLoss"/>).</summary>
public sealed record MarginedPreference(PreferencePair Pair, double Margin);

/// <summary>
/// Reads preference pairs from JSONL in TRL's preference forms, one object per line:
/// <list type="bullet">
/// <item>standard, explicit prompt: <c>{"prompt": "2+3=", "chosen": "5", "rejected": "6"}</c>;</item>
/// <item>standard, implicit prompt: <c>{"chosen": "2+3=5", "rejected": "2+3=6"}</c>, split as TRL splits it
/// (<see cref="ImplicitPrompt"/>);</item>
/// <item>conversational, explicit prompt: <c>{"prompt": [messages], "chosen": [messages], "rejected": [messages]}</c>,
/// rendered with the model's chat template: the prompt ends in the generation prompt and each completion is what the
/// template renders after it (<see cref="ChatExamples.FromPromptAndCompletion"/>);</item>
/// <item>conversational, implicit prompt: <c>{"chosen": [messages], "rejected": [messages]}</c>, the shared leading
/// messages being the prompt.</item>
/// </list>
/// An optional <c>margin</c> (0 when absent) is the score gap the reward model's loss demands. Blank lines are
/// skipped. As in <see cref="JsonlDataset"/>, the first malformed line throws InvalidDataException "path:LINE: why"
/// naming the field, and nothing is returned, so a half-read preference set never trains silently; the file is read
/// within the same <see cref="JsonlLimits"/> as strict UTF-8, and <c>charTokenizer</c> checks the texts against the
/// character tokenizer's vocabulary.
/// </summary>
public static class PreferenceJsonl
{
    public static IReadOnlyList<MarginedPreference> ReadPreferencePairs(string path, JsonlLimits? limits = null, bool charTokenizer = false,
        ChatTemplate? template = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        var pairs = new List<MarginedPreference>();
        foreach (var (number, line) in JsonlLines.Read(path, limits ?? JsonlLimits.Default))
        {
            var at = new JsonlLineReader(path, number);
            pairs.Add(ParseLine(line, at, template, charTokenizer));
        }
        if (pairs.Count == 0) throw new InvalidDataException($"{path}: no preference pairs (the file is empty or blank)");
        return pairs;
    }

    static MarginedPreference ParseLine(string line, JsonlLineReader at, ChatTemplate? template, bool charTokenizer)
    {
        var root = at.Object(line);
        var pair = ParsePair(root, at, template, charTokenizer);
        double margin = 0;
        if (root.TryGetPropertyValue("margin", out var m))
        {
            if (m is not JsonValue value || !value.TryGetValue(out margin) || !double.IsFinite(margin))
                throw at.Error($"field 'margin' must be a finite number, found {m?.GetValueKind().ToString() ?? "null"}");
        }
        return new MarginedPreference(pair, margin);
    }

    /// <summary>The pair of one line in any of the four forms above (its margin aside); KTO's reader unpairs it.</summary>
    internal static PreferencePair ParsePair(JsonObject root, JsonlLineReader at, ChatTemplate? template, bool charTokenizer)
    {
        PreferencePair pair;
        try { pair = root["chosen"] is JsonArray ? Conversational(root, at, template) : Standard(root, at); }
        catch (ChatTemplateException e) { throw at.Error($"chat template ({template?.Origin}): {e.Message}"); }
        if (pair.Chosen == pair.Rejected) throw at.Error("'chosen' and 'rejected' are the same completion");
        if (charTokenizer) CheckCharacters(at, ("prompt", pair.Prompt), ("chosen", pair.Chosen), ("rejected", pair.Rejected));
        return pair;
    }

    /// <summary>Refuses a text the character tokenizer cannot encode, naming its field.</summary>
    internal static void CheckCharacters(JsonlLineReader at, params (string Field, string Text)[] texts)
    {
        foreach (var (field, text) in texts)
            if (CharTokenizer.Unencodable(text) is { } why) throw at.Error($"{why} of field '{field}'");
    }

    static PreferencePair Standard(JsonObject root, JsonlLineReader at)
    {
        var (chosen, rejected) = (at.String(root, "chosen"), at.String(root, "rejected"));
        if (root.ContainsKey("prompt")) return new PreferencePair(at.String(root, "prompt"), chosen, rejected);
        var (prompt, c, r) = ImplicitPrompt.Split(chosen, rejected);
        return new PreferencePair(prompt, c, r);
    }

    static PreferencePair Conversational(JsonObject root, JsonlLineReader at, ChatTemplate? template)
    {
        var (chosen, rejected) = (at.Messages(root, "chosen"), at.Messages(root, "rejected"));
        var prompt = root.ContainsKey("prompt") ? at.Messages(root, "prompt") : null;
        if (prompt is null)
        {
            (prompt, chosen, rejected) = ImplicitPrompt.Split(chosen, rejected);
            if (prompt.Count == 0) throw at.Error("'chosen' and 'rejected' share no leading message, so there is no prompt; give one in 'prompt'");
        }
        if (template is null) throw at.Error("a conversational preference needs the model's chat template, and its tokenizer folder has none");
        var c = ChatExamples.FromPromptAndCompletion(template, prompt, chosen);
        var r = ChatExamples.FromPromptAndCompletion(template, prompt, rejected);
        return new PreferencePair(c.Prompt, c.Completion, r.Completion);
    }
}
