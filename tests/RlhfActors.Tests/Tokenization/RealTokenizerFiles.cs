using System.IO.Compression;
using System.Text.Json;
using RlhfActors.Tests.Data;

namespace RlhfActors.Tests.Tokenization;

/// <summary>The real tokenizer files in Fixtures/ (see its README), unzipped into a model-like folder per family.</summary>
static class RealTokenizerFiles
{
    public static readonly string[] Families = ["gpt2", "llama3_2", "qwen3"];

    static string FixtureDirectory => Path.Combine(AppContext.BaseDirectory, "Tokenization", "Fixtures");

    /// <summary>Writes tokenizer.json and tokenizer_config.json of <paramref name="family"/> into <paramref name="folder"/>.</summary>
    public static string Unpack(string family, TempDirectory folder)
    {
        var target = Path.Combine(folder.Path, family);
        Directory.CreateDirectory(target);
        using (var zipped = File.OpenRead(Path.Combine(FixtureDirectory, $"{family}.tokenizer.json.gz")))
        using (var gzip = new GZipStream(zipped, CompressionMode.Decompress))
        using (var output = File.Create(Path.Combine(target, "tokenizer.json")))
            gzip.CopyTo(output);
        File.Copy(Path.Combine(FixtureDirectory, $"{family}.tokenizer_config.json"), Path.Combine(target, "tokenizer_config.json"));
        return target;
    }

    public static JsonDocument Expected(string family) =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(FixtureDirectory, $"{family}.expected.json")));
}
