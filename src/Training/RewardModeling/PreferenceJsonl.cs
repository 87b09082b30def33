using System.Text.Json;
using RlhfActors.Training.Data;
using RlhfActors.Training.Tokenization;

namespace RlhfActors.Training.RewardModeling;

/// <summary>A labelled pair and the score gap it demands (0 = plain Bradley–Terry; see <see cref="BradleyTerryLoss"/>).</summary>
public sealed record MarginedPreference(PreferencePair Pair, double Margin);

/// <summary>
/// Reads preference pairs from JSONL with TRL's field names, one object per line:
/// <c>{"prompt": "2+3=", "chosen": "5", "rejected": "6", "margin": 1.5}</c>; <c>margin</c> is optional (0 when absent),
/// the three strings are required. Blank lines are skipped. As in <see cref="JsonlDataset"/>, the first malformed line
/// throws InvalidDataException "path:LINE: why" naming the field, and nothing is returned, so a half-read preference
/// set never trains a reward model silently; the file is read within the same <see cref="JsonlLimits"/> as strict
/// UTF-8, and <c>charTokenizer</c> checks the three strings against the character tokenizer's vocabulary.
/// </summary>
public static class PreferenceJsonl
{
    public static IReadOnlyList<MarginedPreference> ReadPreferencePairs(string path, JsonlLimits? limits = null, bool charTokenizer = false)
    {
        ArgumentNullException.ThrowIfNull(path);
        var pairs = new List<MarginedPreference>();
        foreach (var (number, line) in JsonlLines.Read(path, limits ?? JsonlLimits.Default))
        {
            var pair = ParseLine(line, path, number);
            if (charTokenizer)
                foreach (var (field, text) in new[] { ("prompt", pair.Pair.Prompt), ("chosen", pair.Pair.Chosen), ("rejected", pair.Pair.Rejected) })
                    if (CharTokenizer.Unencodable(text) is { } why) throw new InvalidDataException($"{path}:{number}: {why} of field '{field}'");
            pairs.Add(pair);
        }
        if (pairs.Count == 0) throw new InvalidDataException($"{path}: no preference pairs (the file is empty or blank)");
        return pairs;
    }

    static MarginedPreference ParseLine(string line, string path, long lineNumber)
    {
        InvalidDataException Error(string why) => new($"{path}:{lineNumber}: {why}");
        JsonDocument document;
        try { document = JsonDocument.Parse(line); }
        catch (JsonException e) { throw Error($"not valid JSON: {e.Message}"); }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw Error($"expected a JSON object, found {root.ValueKind}");
            string String(string name)
            {
                if (!root.TryGetProperty(name, out var value)) throw Error($"field '{name}' is missing");
                if (value.ValueKind != JsonValueKind.String) throw Error($"field '{name}' must be a string, found {value.ValueKind}");
                return value.GetString()!;
            }
            var pair = new PreferencePair(String("prompt"), String("chosen"), String("rejected"));
            double margin = 0;
            if (root.TryGetProperty("margin", out var m))
            {
                if (m.ValueKind != JsonValueKind.Number || !m.TryGetDouble(out margin) || !double.IsFinite(margin))
                    throw Error($"field 'margin' must be a finite number, found {m.ValueKind}");
            }
            return new MarginedPreference(pair, margin);
        }
    }
}
