using System.Text.Json;

namespace RlhfActors.Training.Tokenization;

/// <summary>
/// What this project reads of a Hugging Face tokenizer.json itself. The encoding (normalizer, pre-tokenizer, model,
/// added tokens) is run by Hugging Face's Rust library (<see cref="HfTokenizer"/>); this side keeps only what that
/// library's .NET wrapper does not expose: the id → token table (for `rlhf tokenize` and the vocabulary size),
/// the added tokens and which are special, the post-processor's template, and the special-token names.
/// </summary>
sealed record HfTokenizerFile(
    string Path,
    IReadOnlyDictionary<int, string> Tokens,
    IReadOnlyList<HfAddedToken> AddedTokens,
    HfPostProcessor PostProcessor,
    IReadOnlyDictionary<string, string> NamedSpecialTokens)
{
    public int VocabSize => Tokens.Count == 0 ? 0 : Tokens.Keys.Max() + 1;

    public int? IdOf(string token) =>
        AddedTokens.FirstOrDefault(t => t.Content == token)?.Id
        ?? Tokens.Where(pair => pair.Value == token).Select(pair => (int?)pair.Key).FirstOrDefault();

    public static HfTokenizerFile Load(string path)
    {
        var json = new JsonFieldReader(path);
        using var document = JsonFieldReader.ParseFile(path);
        var root = json.Expect(document.RootElement, "(root)", JsonValueKind.Object);

        // The Rust library would pad or cut every encoding to these settings; a training example must not be.
        foreach (var field in new[] { "truncation", "padding" })
            if (json.Optional(root, field) is not null)
                throw json.Error(field, "is set; encodings would be cut or padded to it. Set it to null in the file");

        var model = json.Require(root, "model", "model", JsonValueKind.Object);
        var tokens = ReadVocab(json, model);
        var added = ReadAddedTokens(json, root);
        foreach (var token in added) tokens[token.Id] = token.Content;
        return new HfTokenizerFile(path, tokens, added, HfPostProcessor.Read(json, root), HfSpecialTokenIds.ReadNames(json, root));
    }

    /// <summary>BPE, WordPiece and WordLevel hold vocab as {"token": id}; Unigram as [["piece", score], …] in id order.</summary>
    static Dictionary<int, string> ReadVocab(JsonFieldReader json, JsonElement model)
    {
        var tokens = new Dictionary<int, string>();
        var vocab = json.Optional(model, "vocab") ?? throw json.Error("model.vocab", "is missing");
        if (vocab.ValueKind == JsonValueKind.Object)
        {
            foreach (var entry in vocab.EnumerateObject())
            {
                var id = json.Int(entry.Value, $"model.vocab[\"{entry.Name}\"]");
                if (id < 0) throw json.Error($"model.vocab[\"{entry.Name}\"]", $"is {id}; ids are never negative");
                tokens[id] = entry.Name;
            }
        }
        else
        {
            int id = 0;
            foreach (var entry in json.Expect(vocab, "model.vocab", JsonValueKind.Array).EnumerateArray())
            {
                var field = $"model.vocab[{id}]";
                tokens[id++] = json.String(json.Expect(entry, field, JsonValueKind.Array)[0], $"{field}[0]");
            }
        }
        return tokens;
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
}
