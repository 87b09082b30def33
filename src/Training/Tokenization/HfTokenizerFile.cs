using System.Text.Json;

namespace RlhfActors.Training.Tokenization;

/// <summary>
/// The parts of a Hugging Face tokenizer.json that a byte-level BPE tokenizer needs, checked on the way in.
/// Supported shapes: GPT-2 (pre_tokenizer ByteLevel with its built-in regex) and Qwen2 / Llama-3
/// (Sequence of a regex Split and ByteLevel without regex). Anything else is refused with the field named,
/// rather than silently tokenizing differently from the model's training.
/// </summary>
sealed record HfTokenizerFile(
    string Path,
    IReadOnlyDictionary<string, int> Vocab,
    IReadOnlyList<string> Merges,
    IReadOnlyList<HfAddedToken> AddedTokens,
    string SplitPattern,
    IReadOnlyDictionary<string, string> NamedSpecialTokens)
{
    /// <summary>The regex GPT-2's ByteLevel pre-tokenizer uses when use_regex is true.</summary>
    public const string Gpt2SplitPattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    public static HfTokenizerFile Load(string path)
    {
        var json = new JsonFieldReader(path);
        using var document = JsonFieldReader.ParseFile(path);
        var root = json.Expect(document.RootElement, "(root)", JsonValueKind.Object);

        var model = json.Require(root, "model", "model", JsonValueKind.Object);
        if (json.Optional(model, "type") is { } type && json.String(type, "model.type") != "BPE")
            throw json.Error("model.type", $"is '{type.GetString()}'; only byte-level BPE tokenizers are supported");
        if (json.Bool(model, "byte_fallback", "model.byte_fallback", false))
            throw json.Error("model.byte_fallback", "is true (a SentencePiece-style BPE); only byte-level BPE is supported");
        foreach (var affix in new[] { "continuing_subword_prefix", "end_of_word_suffix" })
            if (json.Optional(model, affix) is { } value && json.String(value, $"model.{affix}").Length > 0)
                throw json.Error($"model.{affix}", "is set; byte-level BPE tokenizers do not use it");

        var vocab = ReadVocab(json, model);
        var merges = ReadMerges(json, model, vocab);
        var added = ReadAddedTokens(json, root);
        CheckNormalizer(json, root);
        var split = ReadSplitPattern(json, root);
        return new HfTokenizerFile(path, vocab, merges, added, split, HfSpecialTokenIds.ReadNames(json, root));
    }

    static Dictionary<string, int> ReadVocab(JsonFieldReader json, JsonElement model)
    {
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var entry in json.Require(model, "vocab", "model.vocab", JsonValueKind.Object).EnumerateObject())
        {
            var id = json.Int(entry.Value, $"model.vocab[\"{entry.Name}\"]");
            if (id < 0) throw json.Error($"model.vocab[\"{entry.Name}\"]", $"is {id}; ids are never negative");
            vocab[entry.Name] = id;
        }
        // A byte-level vocabulary holds all 256 byte symbols; without them some texts could not be encoded.
        for (int b = 0; b < 256; b++)
            if (!vocab.ContainsKey(ByteLevelAlphabet.Symbols[b]))
                throw json.Error("model.vocab", $"lacks the byte-level symbol '{ByteLevelAlphabet.Symbols[b]}' of byte 0x{b:X2}; not a byte-level BPE vocabulary");
        return vocab;
    }

    /// <summary>Merges come as "a b" strings (older files) or ["a", "b"] pairs (tokenizers ≥ 0.20).
    /// Microsoft.ML.Tokenizers takes "a b" strings; byte-level symbols never contain a space, so that is lossless.</summary>
    static List<string> ReadMerges(JsonFieldReader json, JsonElement model, Dictionary<string, int> vocab)
    {
        var merges = new List<string>();
        int index = 0;
        foreach (var item in json.Require(model, "merges", "model.merges", JsonValueKind.Array).EnumerateArray())
        {
            var field = $"model.merges[{index++}]";
            string left, right;
            if (item.ValueKind == JsonValueKind.String)
            {
                var parts = item.GetString()!.Split(' ');
                if (parts.Length != 2) throw json.Error(field, $"is \"{item.GetString()}\"; expected two symbols separated by one space");
                (left, right) = (parts[0], parts[1]);
            }
            else if (item.ValueKind == JsonValueKind.Array && item.GetArrayLength() == 2)
            {
                left = json.String(item[0], $"{field}[0]");
                right = json.String(item[1], $"{field}[1]");
            }
            else throw json.Error(field, "must be a string \"a b\" or a pair [\"a\", \"b\"]");

            foreach (var symbol in new[] { left, right, left + right })
            {
                if (symbol.Length == 0 || symbol.Contains(' '))
                    throw json.Error(field, $"has symbol \"{symbol}\"; byte-level symbols are non-empty and contain no space");
                if (!vocab.ContainsKey(symbol)) throw json.Error(field, $"uses \"{symbol}\", which is not in model.vocab");
            }
            merges.Add(left + " " + right);
        }
        return merges;
    }

    static List<HfAddedToken> ReadAddedTokens(JsonFieldReader json, JsonElement root)
    {
        var added = new List<HfAddedToken>();
        if (json.Optional(root, "added_tokens") is not { } array) return added;
        int index = 0;
        foreach (var item in json.Expect(array, "added_tokens", JsonValueKind.Array).EnumerateArray())
        {
            var field = $"added_tokens[{index++}]";
            json.Expect(item, field, JsonValueKind.Object);
            var id = json.Int(json.Require(item, "id", $"{field}.id", JsonValueKind.Number), $"{field}.id");
            if (id < 0) throw json.Error($"{field}.id", $"is {id}; ids are never negative");
            var content = json.String(json.Require(item, "content", $"{field}.content", JsonValueKind.String), $"{field}.content");
            if (content.Length == 0) throw json.Error($"{field}.content", "is empty");
            added.Add(new HfAddedToken(id, content, json.Bool(item, "special", $"{field}.special", false)));
        }
        return added;
    }

    /// <summary>Qwen2 declares an NFC normalizer. This project runs with invariant globalization, where
    /// string.Normalize cannot compose non-ASCII text, so NFC is accepted as a no-op: text that is already
    /// NFC (almost all text) tokenizes exactly as in Hugging Face. Other normalizers change text and are refused.</summary>
    static void CheckNormalizer(JsonFieldReader json, JsonElement root)
    {
        if (json.Optional(root, "normalizer") is not { } normalizer) return;
        var type = json.String(json.Require(normalizer, "type", "normalizer.type", JsonValueKind.String), "normalizer.type");
        if (type != "NFC") throw json.Error("normalizer.type", $"is '{type}'; only NFC (or none) is supported");
    }

    static string ReadSplitPattern(JsonFieldReader json, JsonElement root)
    {
        var pre = json.Require(root, "pre_tokenizer", "pre_tokenizer", JsonValueKind.Object);
        var type = json.String(json.Require(pre, "type", "pre_tokenizer.type", JsonValueKind.String), "pre_tokenizer.type");
        if (type == "ByteLevel")
        {
            CheckByteLevelStep(json, pre, "pre_tokenizer");
            if (!json.Bool(pre, "use_regex", "pre_tokenizer.use_regex", true))
                throw json.Error("pre_tokenizer.use_regex", "is false with no Split step; the text would not be split into words");
            return Gpt2SplitPattern;
        }
        if (type != "Sequence") throw json.Error("pre_tokenizer.type", $"is '{type}'; expected ByteLevel or Sequence");

        string? pattern = null;
        bool byteLevel = false;
        int index = 0;
        foreach (var step in json.Require(pre, "pretokenizers", "pre_tokenizer.pretokenizers", JsonValueKind.Array).EnumerateArray())
        {
            var field = $"pre_tokenizer.pretokenizers[{index++}]";
            var stepType = json.String(json.Require(step, "type", $"{field}.type", JsonValueKind.String), $"{field}.type");
            switch (stepType)
            {
                case "Split" when pattern is null:
                    pattern = ReadSplitStep(json, step, field);
                    break;
                case "ByteLevel" when !byteLevel:
                    CheckByteLevelStep(json, step, field);
                    byteLevel = true;
                    if (json.Bool(step, "use_regex", $"{field}.use_regex", true))
                        pattern = pattern is null ? Gpt2SplitPattern : throw json.Error($"{field}.use_regex", "is true after a Split step; only one split regex is supported");
                    break;
                default:
                    throw json.Error($"{field}.type", $"is '{stepType}'; supported: one Split (regex) and one ByteLevel step");
            }
        }
        if (!byteLevel) throw json.Error("pre_tokenizer.pretokenizers", "has no ByteLevel step; only byte-level BPE is supported");
        return pattern ?? throw json.Error("pre_tokenizer.pretokenizers", "has no Split step and ByteLevel.use_regex is false");
    }

    static string ReadSplitStep(JsonFieldReader json, JsonElement step, string field)
    {
        var patternObject = json.Require(step, "pattern", $"{field}.pattern", JsonValueKind.Object);
        if (json.Optional(patternObject, "Regex") is not { } regex)
            throw json.Error($"{field}.pattern", "has no 'Regex'; only regex splits are supported");
        var behavior = json.Optional(step, "behavior") is { } b ? json.String(b, $"{field}.behavior") : "Isolated";
        if (behavior != "Isolated") throw json.Error($"{field}.behavior", $"is '{behavior}'; only Isolated is supported");
        if (json.Bool(step, "invert", $"{field}.invert", false)) throw json.Error($"{field}.invert", "is true; not supported");
        var pattern = json.String(regex, $"{field}.pattern.Regex");
        try { _ = new System.Text.RegularExpressions.Regex(pattern); }
        catch (ArgumentException e) { throw json.Error($"{field}.pattern.Regex", $"is not a valid regex: {e.Message}"); }
        return pattern;
    }

    /// <summary>add_prefix_space (RoBERTa) would prepend a space to every text; decoder LMs do not use it.</summary>
    static void CheckByteLevelStep(JsonFieldReader json, JsonElement step, string field)
    {
        if (json.Bool(step, "add_prefix_space", $"{field}.add_prefix_space", false))
            throw json.Error($"{field}.add_prefix_space", "is true; not supported");
    }
}
