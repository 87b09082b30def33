namespace RlhfActors.Training.Tokenization;

public static class TokenizerFiles
{
    public const string CharSpec = "char";
    const string HfFileName = "tokenizer.json";
    const string HfConfigFileName = "tokenizer_config.json";
    const string HfSpecialTokensMapFileName = "special_tokens_map.json";
    /// <summary>Marks a model folder whose tokenizer is the built-in character tokenizer (which has no tokenizer.json).</summary>
    public const string CharMarkerFileName = "rlhf_char_tokenizer.json";

    /// <summary>The files a model folder may carry for its tokenizer (what <see cref="FilesFor"/> writes).</summary>
    public static readonly IReadOnlyList<string> FolderFiles = [HfFileName, HfConfigFileName, HfSpecialTokensMapFileName, Chat.ChatTemplate.JinjaFileName, Model.GenerationConfig.FileName, CharMarkerFileName];

    /// <summary>Whether <see cref="Create"/> finds a tokenizer in <paramref name="folder"/>.</summary>
    public static bool FolderHasTokenizer(string folder) =>
        File.Exists(Path.Combine(folder, HfFileName)) || File.Exists(Path.Combine(folder, CharMarkerFileName));

    /// <summary>Whether <see cref="Create"/> gives the character tokenizer for <paramref name="spec"/>, decided without
    /// loading anything: the one tokenizer that cannot encode every text, so data readers check against it.</summary>
    public static bool IsCharacter(string spec) =>
        spec == CharSpec
        || Directory.Exists(spec) && !File.Exists(Path.Combine(spec, HfFileName)) && File.Exists(Path.Combine(spec, CharMarkerFileName));

    /// <summary>The folder a Hugging Face tokenizer spec lives in (the spec itself, or the folder of its tokenizer.json),
    /// where tokenizer_config.json and the chat template sit beside it.</summary>
    public static string FolderOf(string spec) => Directory.Exists(spec) ? spec : Path.GetDirectoryName(Path.GetFullPath(spec)) ?? ".";

    /// <summary>The chat template beside a Hugging Face tokenizer <paramref name="spec"/>, or null for the character
    /// tokenizer or a folder without one (what data readers render conversational lines with).</summary>
    public static Chat.ChatTemplate? ChatTemplateOf(string? spec) =>
        spec is null || IsCharacter(spec) ? null : Chat.ChatTemplate.Load(FolderOf(spec));

    /// <summary>"char" gives the built-in character tokenizer; otherwise a path to a Hugging Face tokenizer.json
    /// (or a folder that holds one).</summary>
    public static ITokenizer Create(string spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (spec == CharSpec) return CharTokenizer.Instance;
        if (File.Exists(spec)) return HfTokenizer.Load(spec);
        if (Directory.Exists(spec))
        {
            var inFolder = Path.Combine(spec, HfFileName);
            if (File.Exists(inFolder)) return HfTokenizer.Load(inFolder);
            if (File.Exists(Path.Combine(spec, CharMarkerFileName))) return CharTokenizer.Instance;
            throw new ArgumentException($"tokenizer '{spec}' is a folder without a {HfFileName}", nameof(spec));
        }
        throw new ArgumentException(
            $"tokenizer '{spec}' is neither \"{CharSpec}\" nor an existing {HfFileName} file or a folder holding one", nameof(spec));
    }

    /// <summary>The files that let <see cref="Create"/> rebuild <paramref name="tokenizer"/> from a model folder:
    /// tokenizer.json (+ tokenizer_config.json, special_tokens_map.json, chat_template.jinja and generation_config.json,
    /// the last because the tokenizer's stop ids come from it, see <see cref="ITokenizer.StopIds"/>)
    /// for a Hugging Face tokenizer, a marker file for the character one.
    /// Checkpoints carry them so `rlhf generate --prompt` works on a checkpoint.</summary>
    public static IReadOnlyDictionary<string, byte[]> FilesFor(ITokenizer tokenizer)
    {
        switch (tokenizer)
        {
            case CharTokenizer:
                return new Dictionary<string, byte[]> { [CharMarkerFileName] = "{\"type\": \"char\", \"vocab_size\": 99}\n"u8.ToArray() };
            case HfTokenizer hf:
                var files = new Dictionary<string, byte[]> { [HfFileName] = File.ReadAllBytes(hf.Path) };
                foreach (var name in new[] { HfConfigFileName, HfSpecialTokensMapFileName, Chat.ChatTemplate.JinjaFileName, Model.GenerationConfig.FileName })
                {
                    var beside = Path.Combine(Path.GetDirectoryName(hf.Path) ?? ".", name);
                    if (File.Exists(beside)) files[name] = File.ReadAllBytes(beside);
                }
                return files;
            default:
                throw new ArgumentException($"no saved form for tokenizer {tokenizer.GetType().Name}", nameof(tokenizer));
        }
    }
}
