namespace RlhfActors.Training.Tokenization;

public static class Tokenizers
{
    public const string CharSpec = "char";
    const string HfFileName = "tokenizer.json";

    /// <summary>"char" gives the built-in character tokenizer; otherwise a path to a Hugging Face tokenizer.json
    /// (or a folder that holds one).</summary>
    public static ITokenizer Create(string spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (spec == CharSpec) return CharTokenizer.Instance;
        if (File.Exists(spec)) return HfBpeTokenizer.Load(spec);
        if (Directory.Exists(spec))
        {
            var inFolder = Path.Combine(spec, HfFileName);
            if (File.Exists(inFolder)) return HfBpeTokenizer.Load(inFolder);
            throw new ArgumentException($"tokenizer '{spec}' is a folder without a {HfFileName}", nameof(spec));
        }
        throw new ArgumentException(
            $"tokenizer '{spec}' is neither \"{CharSpec}\" nor an existing {HfFileName} file or a folder holding one", nameof(spec));
    }
}
