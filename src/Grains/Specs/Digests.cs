using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using RlhfActors.Abstractions.Config;
using RlhfActors.Training.Data;

namespace RlhfActors.Grains.Specs;

/// <summary>Hashes recorded as checkpoint provenance.</summary>
public static class Digests
{
    static readonly JsonSerializerOptions ConfigJson = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>The config as canonical JSON (snake_case keys, declaration order, sorted task parameters), the
    /// text <see cref="ConfigSha256"/> hashes. Recorded in checkpoints next to its hash.</summary>
    public static string ConfigToJson(ExperimentConfig config) =>
        JsonSerializer.Serialize(config with { SourceFile = null }, ConfigJson);

    /// <summary>SHA-256 of <see cref="ConfigToJson"/>: the same settings hash the same whichever file (or code)
    /// they came from.</summary>
    public static string ConfigSha256(ExperimentConfig config) => Sha256(ConfigToJson(config));

    /// <summary>SHA-256 over every train and held-out example (length-prefixed, in order).</summary>
    public static string DatasetSha256(LoadedData data)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        void Add(string s)
        {
            var bytes = Encoding.UTF8.GetBytes(s);
            hash.AppendData(BitConverter.GetBytes(bytes.Length));
            hash.AppendData(bytes);
        }
        foreach (var (split, examples) in new[] { ("train", data.Train), ("eval", data.Eval) })
        {
            Add(split);
            Add(examples.Count.ToString(System.Globalization.CultureInfo.InvariantCulture));
            foreach (var e in examples)
            {
                Add(e.Prompt);
                Add(e.Completion);
            }
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    static string Sha256(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
}
