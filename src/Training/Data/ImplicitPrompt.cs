using System.Text.Json.Nodes;

namespace RlhfActors.Training.Data;

/// <summary>
/// TRL's "implicit prompt" preference form: <c>{"chosen": …, "rejected": …}</c> without a prompt, the prompt being
/// what the two share at their start. As TRL's <c>extract_prompt</c> splits it (the same loop for text and for
/// message lists):
/// <code>
/// i = the first index where chosen[i] ≠ rejected[i]           (none: i = min(|chosen|, |rejected|) − 1)
/// text only: if chosen[i − 1] = ' ' then i = i − 1            (the space starts the completions)
/// prompt = chosen[..i], chosen = chosen[i..], rejected = rejected[i..]
/// </code>
/// Written here because no .NET package carries TRL's rule. Python's chosen[−1] at i = 0 (which reads the last
/// character) is not copied: at i = 0 the prompt is empty.
/// </summary>
public static class ImplicitPrompt
{
    public static (string Prompt, string Chosen, string Rejected) Split(string chosen, string rejected)
    {
        int i = FirstDifference(chosen.Length, rejected.Length, k => chosen[k] == rejected[k]);
        if (i > 0 && chosen[i - 1] == ' ') i--;
        return (chosen[..i], chosen[i..], rejected[i..]);
    }

    public static (JsonArray Prompt, JsonArray Chosen, JsonArray Rejected) Split(JsonArray chosen, JsonArray rejected)
    {
        int i = FirstDifference(chosen.Count, rejected.Count, k => JsonNode.DeepEquals(chosen[k], rejected[k]));
        JsonArray Slice(JsonArray from, int start, int end) => new([.. from.Skip(start).Take(end - start).Select(m => m!.DeepClone())]);
        return (Slice(chosen, 0, i), Slice(chosen, i, chosen.Count), Slice(rejected, i, rejected.Count));
    }

    static int FirstDifference(int chosenLength, int rejectedLength, Func<int, bool> same)
    {
        int n = Math.Min(chosenLength, rejectedLength);
        for (int k = 0; k < n; k++)
            if (!same(k)) return k;
        return Math.Max(n - 1, 0);
    }
}
