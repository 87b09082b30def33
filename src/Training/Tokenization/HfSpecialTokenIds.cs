using System.Text.Json;

namespace RlhfActors.Training.Tokenization;

/// <summary>
/// Finds the eos and pad ids for a tokenizer.json (the bos a text gets comes from the post-processor, <see cref="HfPostProcessor"/>). Hugging Face keeps the names of these tokens in the
/// neighbouring tokenizer_config.json (as a string or an {"content": …} object), not in tokenizer.json,
/// so that file wins; top-level fields of tokenizer.json itself are accepted too.
/// </summary>
sealed record HfSpecialTokenIds(int EosId, int PadId)
{
    static readonly string[] Fields = ["eos_token", "pad_token", "bos_token"];

    /// <summary>Eos candidates when no file names one, in order: GPT-2 / Qwen2 base, Llama-2 / Mistral,
    /// Qwen2 chat, Llama-3 base.</summary>
    static readonly string[] EosFallbacks = ["<|endoftext|>", "</s>", "<|im_end|>", "<|end_of_text|>"];

    public static HfSpecialTokenIds Resolve(HfTokenizerFile file)
    {
        var sources = new List<(string File, IReadOnlyDictionary<string, string> Names)>();
        var configPath = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(file.Path))!, "tokenizer_config.json");
        if (File.Exists(configPath))
        {
            using var config = JsonFieldReader.ParseFile(configPath);
            sources.Add((configPath, ReadNames(new JsonFieldReader(configPath), config.RootElement)));
        }
        sources.Add((file.Path, file.NamedSpecialTokens));

        int? Find(string field)
        {
            foreach (var (source, names) in sources)
                if (names.TryGetValue(field, out var content))
                    return file.IdOf(content) ?? throw new InvalidDataException(
                        $"{source}: field '{field}' is \"{content}\", which is neither in added_tokens nor in model.vocab of {file.Path}");
            return null;
        }

        var eos = Find("eos_token") ?? FallbackEos(file);
        return new HfSpecialTokenIds(eos, Find("pad_token") ?? eos);
    }

    /// <summary>The eos/pad/bos token texts a JSON object names (null fields are absent).</summary>
    public static IReadOnlyDictionary<string, string> ReadNames(JsonFieldReader json, JsonElement root)
    {
        var names = new Dictionary<string, string>();
        foreach (var field in Fields)
        {
            if (json.Optional(root, field) is not { } value) continue;
            names[field] = value.ValueKind == JsonValueKind.Object
                ? json.String(json.Require(value, "content", $"{field}.content", JsonValueKind.String), $"{field}.content")
                : json.String(value, field);
        }
        return names;
    }

    static int FallbackEos(HfTokenizerFile file) =>
        EosFallbacks.Select(name => file.AddedTokens.FirstOrDefault(t => t.Content == name)?.Id).FirstOrDefault(id => id is not null)
        ?? throw new InvalidDataException(
            $"{file.Path}: no end-of-sequence token: set 'eos_token' in tokenizer_config.json, or add one of " +
            $"{string.Join(", ", EosFallbacks)} to added_tokens");

}
