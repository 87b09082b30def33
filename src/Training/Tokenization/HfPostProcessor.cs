using System.Text.Json;

namespace RlhfActors.Training.Tokenization;

/// <summary>
/// What tokenizer.json's post_processor adds around one sequence when Hugging Face encodes with
/// add_special_tokens=True: the ids before the text (Llama-3's &lt;|begin_of_text|&gt;, Gemma's &lt;bos&gt;) and after
/// it. Read from the file, never guessed from a bos_token name: GPT-2 names a bos_token but its ByteLevel
/// post-processor adds nothing. The Rust library applies the same template; this copy is what lets
/// <see cref="HfTokenizer"/> also encode without special tokens, and checks that both agree.
/// </summary>
sealed record HfPostProcessor(IReadOnlyList<int> Prefix, IReadOnlyList<int> Suffix)
{
    public static readonly HfPostProcessor None = new([], []);

    public static HfPostProcessor Read(JsonFieldReader json, JsonElement root) =>
        json.Optional(root, "post_processor") is { } processor ? ReadOne(json, processor, "post_processor") : None;

    static HfPostProcessor ReadOne(JsonFieldReader json, JsonElement processor, string field)
    {
        var type = json.String(json.Require(processor, "type", $"{field}.type", JsonValueKind.String), $"{field}.type");
        switch (type)
        {
            case "ByteLevel":
                return None; // trims offsets only; adds no token
            case "Sequence":
            {
                var prefix = new List<int>();
                var suffix = new List<int>();
                int index = 0;
                foreach (var step in json.Require(processor, "processors", $"{field}.processors", JsonValueKind.Array).EnumerateArray())
                {
                    var one = ReadOne(json, step, $"{field}.processors[{index++}]");
                    // Each step wraps the result of the one before it.
                    prefix.InsertRange(0, one.Prefix);
                    suffix.AddRange(one.Suffix);
                }
                return new HfPostProcessor(prefix, suffix);
            }
            case "TemplateProcessing":
                return ReadTemplate(json, processor, field);
            case "BertProcessing" or "RobertaProcessing":
            {
                // {"cls": ["[CLS]", 101], "sep": ["[SEP]", 102]}: cls A sep for one sequence.
                int Id(string name) => json.Int(json.Require(processor, name, $"{field}.{name}", JsonValueKind.Array)[1], $"{field}.{name}[1]");
                return new HfPostProcessor([Id("cls")], [Id("sep")]);
            }
            default:
                throw json.Error($"{field}.type", $"is '{type}'; supported post-processors: ByteLevel, TemplateProcessing, BertProcessing, RobertaProcessing, Sequence");
        }
    }

    /// <summary>single: [{"SpecialToken": {"id": "&lt;bos&gt;"}}, {"Sequence": {"id": "A"}}, …]; each special token's ids
    /// come from the template's own special_tokens table.</summary>
    static HfPostProcessor ReadTemplate(JsonFieldReader json, JsonElement processor, string field)
    {
        var table = json.Require(processor, "special_tokens", $"{field}.special_tokens", JsonValueKind.Object);
        var prefix = new List<int>();
        var suffix = new List<int>();
        bool seenSequence = false;
        int index = 0;
        foreach (var piece in json.Require(processor, "single", $"{field}.single", JsonValueKind.Array).EnumerateArray())
        {
            var pieceField = $"{field}.single[{index++}]";
            if (json.Optional(piece, "Sequence") is not null)
            {
                if (seenSequence) throw json.Error(pieceField, "is a second Sequence in a single-sequence template");
                seenSequence = true;
                continue;
            }
            var special = json.Require(piece, "SpecialToken", $"{pieceField}.SpecialToken", JsonValueKind.Object);
            var name = json.String(json.Require(special, "id", $"{pieceField}.SpecialToken.id", JsonValueKind.String), $"{pieceField}.SpecialToken.id");
            var entry = json.Optional(table, name) ?? throw json.Error($"{field}.special_tokens", $"has no entry for '{name}', which {pieceField} names");
            int idIndex = 0;
            foreach (var id in json.Require(entry, "ids", $"{field}.special_tokens[\"{name}\"].ids", JsonValueKind.Array).EnumerateArray())
                (seenSequence ? suffix : prefix).Add(json.Int(id, $"{field}.special_tokens[\"{name}\"].ids[{idIndex++}]"));
        }
        if (!seenSequence) throw json.Error($"{field}.single", "has no Sequence piece");
        return new HfPostProcessor(prefix, suffix);
    }
}
