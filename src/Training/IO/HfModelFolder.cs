using System.Text.Json;
using RlhfActors.Training.Model;
using RlhfActors.Training.Weights;

namespace RlhfActors.Training.IO;

/// <summary>A Hugging Face model folder's config and weights (HF parameter names, stored dtypes).</summary>
public sealed record HfModelContent(ModelConfig Config, IReadOnlyList<TensorBytes> Weights);

/// <summary>Loads and saves the Hugging Face folder layout: <c>config.json</c> plus <c>model.safetensors</c>, or
/// shards listed in <c>model.safetensors.index.json</c>. Pickled checkpoints are refused, never unpickled.</summary>
public static class HfModelFolder
{
    public const string ConfigFile = "config.json";
    public const string SingleWeightsFile = "model.safetensors";
    public const string IndexFile = "model.safetensors.index.json";

    /// <summary>Reads the folder. One of our checkpoints (it has a manifest) is verified first, so no command loads
    /// a checkpoint whose files changed after it was written; <paramref name="verified"/> says the caller just did.</summary>
    public static HfModelContent Load(string folder, bool verified = false)
    {
        if (!Directory.Exists(folder))
            throw new DirectoryNotFoundException($"model folder {folder} does not exist");
        if (!verified) Checkpoints.ModelFolderDigest.VerifyIfCheckpoint(folder);
        var configPath = Path.Combine(folder, ConfigFile);
        if (!File.Exists(configPath))
            throw new FileNotFoundException($"model folder {folder} has no {ConfigFile}", configPath);
        var config = ModelConfig.Load(configPath);

        // Same preference as transformers: the single file wins over an index.
        var single = Path.Combine(folder, SingleWeightsFile);
        if (File.Exists(single))
            return new HfModelContent(config, SafeTensorsFile.Read(single).Tensors);
        var index = Path.Combine(folder, IndexFile);
        if (File.Exists(index))
            return new HfModelContent(config, LoadSharded(folder, index));

        var pickled = Directory.EnumerateFiles(folder)
            .Select(Path.GetFileName)
            .Where(n => n!.EndsWith(".bin", StringComparison.OrdinalIgnoreCase) || n.EndsWith(".pt", StringComparison.OrdinalIgnoreCase)
                        || n.EndsWith(".pth", StringComparison.OrdinalIgnoreCase) || n == "pytorch_model.bin.index.json")
            .ToArray();
        if (pickled.Length > 0)
            throw new InvalidDataException(
                $"model folder {folder} holds only pickled PyTorch weights ({string.Join(", ", pickled)}); pickled checkpoints are never " +
                "loaded because unpickling can run arbitrary code. Convert them to safetensors (e.g. in Python: " +
                "AutoModelForCausalLM.from_pretrained(folder).save_pretrained(out, safe_serialization=True)).");
        throw new FileNotFoundException($"model folder {folder} has neither {SingleWeightsFile} nor {IndexFile}", single);
    }

    static IReadOnlyList<TensorBytes> LoadSharded(string folder, string indexPath)
    {
        var weightMap = ReadWeightMap(indexPath);
        var weights = new List<TensorBytes>(weightMap.Count);
        foreach (var shard in weightMap.Values.Distinct(StringComparer.Ordinal))
        {
            var shardPath = Path.Combine(folder, shard);
            if (!File.Exists(shardPath))
                throw new InvalidDataException($"{indexPath}: shard {shard} is listed in weight_map but missing from {folder}");
            var wanted = weightMap.Where(kv => kv.Value == shard).Select(kv => kv.Key).ToHashSet(StringComparer.Ordinal);
            var tensors = SafeTensorsFile.Read(shardPath).Tensors;
            var present = tensors.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
            var missing = wanted.Where(n => !present.Contains(n)).ToArray();
            if (missing.Length > 0)
                throw new InvalidDataException($"{indexPath}: weight_map puts {string.Join(", ", missing.Take(5).Select(n => $"'{n}'"))}{(missing.Length > 5 ? $" and {missing.Length - 5} more" : "")} in {shard}, but that shard does not hold them");
            // A shard may carry tensors the index does not list; the index is the authority, so they are skipped.
            weights.AddRange(tensors.Where(t => wanted.Contains(t.Name)));
        }
        return weights;
    }

    static Dictionary<string, string> ReadWeightMap(string indexPath)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(File.ReadAllBytes(indexPath)); }
        catch (JsonException e) { throw new InvalidDataException($"{indexPath}: not valid JSON: {e.Message}", e); }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object
                || !doc.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException($"{indexPath}: field 'weight_map' is missing or not an object");
            var result = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var entry in map.EnumerateObject())
            {
                if (entry.Value.ValueKind != JsonValueKind.String)
                    throw new InvalidDataException($"{indexPath}: weight_map['{entry.Name}'] is not a file name string");
                var shard = entry.Value.GetString()!;
                // Shard names are plain file names in the same folder; anything else could read outside it.
                if (shard.Length == 0 || shard != Path.GetFileName(shard) || shard is "." or "..")
                    throw new InvalidDataException($"{indexPath}: weight_map['{entry.Name}'] = '{shard}' is not a plain file name in the model folder");
                result[entry.Name] = shard;
            }
            if (result.Count == 0)
                throw new InvalidDataException($"{indexPath}: field 'weight_map' is empty");
            return result;
        }
    }

    /// <summary>The torch dtype name of the floating-point weights' storage type (the most common one), or null when
    /// there are none.</summary>
    static string? TorchDtypeOf(IReadOnlyList<TensorBytes> weights) =>
        weights.Select(w => w.DType switch { "F32" => "float32", "BF16" => "bfloat16", "F16" => "float16", _ => null })
            .Where(d => d is not null).GroupBy(d => d).OrderByDescending(g => g.Count()).Select(g => g.Key).FirstOrDefault();

    /// <summary>Writes config.json and the weights, as one <c>model.safetensors</c> or, when the total exceeds
    /// <paramref name="maxShardBytes"/>, as shards plus an index. Returns the file names written.</summary>
    public static IReadOnlyList<string> Save(string folder, ModelConfig config, IReadOnlyList<TensorBytes> weights,
        long maxShardBytes = 2L << 30)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(weights);
        if (maxShardBytes <= 0) throw new ArgumentException($"maxShardBytes must be > 0, got {maxShardBytes}", nameof(maxShardBytes));
        var duplicate = weights.GroupBy(w => w.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new ArgumentException($"duplicate weight name '{duplicate.Key}'", nameof(weights));

        Directory.CreateDirectory(folder);
        // torch_dtype says what the weights are stored as (transformers loads in it by default), not what the
        // config was read with: a bf16 model trained and saved in fp32 says float32.
        AtomicFile.WriteAllText(Path.Combine(folder, ConfigFile), (config with { TorchDtype = TorchDtypeOf(weights) ?? config.TorchDtype }).ToJson());
        var metadata = new Dictionary<string, string> { ["format"] = "pt" };
        long total = weights.Sum(w => (long)w.Data.Length);
        var written = new List<string> { ConfigFile };

        if (total <= maxShardBytes)
        {
            SafeTensorsFile.Write(Path.Combine(folder, SingleWeightsFile), weights, metadata);
            written.Add(SingleWeightsFile);
        }
        else
        {
            var shards = Pack(weights, maxShardBytes);
            var weightMap = new SortedDictionary<string, string>(StringComparer.Ordinal);
            for (var i = 0; i < shards.Count; i++)
            {
                var name = $"model-{i + 1:D5}-of-{shards.Count:D5}.safetensors";
                SafeTensorsFile.Write(Path.Combine(folder, name), shards[i], metadata);
                foreach (var w in shards[i]) weightMap[w.Name] = name;
                written.Add(name);
            }
            // The index goes last so it never points at a shard that is not there yet.
            var index = new { metadata = new { total_size = total }, weight_map = weightMap };
            AtomicFile.WriteAllText(Path.Combine(folder, IndexFile), JsonSerializer.Serialize(index, new JsonSerializerOptions { WriteIndented = true }));
            written.Add(IndexFile);
        }
        RemoveStaleWeights(folder, written);
        return written;
    }

    /// <summary>Greedy in-order packing: a shard closes when the next tensor would push it past the limit; a tensor
    /// larger than the limit gets a shard of its own.</summary>
    static List<List<TensorBytes>> Pack(IReadOnlyList<TensorBytes> weights, long maxShardBytes)
    {
        var shards = new List<List<TensorBytes>>();
        var current = new List<TensorBytes>();
        long size = 0;
        foreach (var w in weights)
        {
            if (current.Count > 0 && size + w.Data.Length > maxShardBytes)
            {
                shards.Add(current);
                current = new List<TensorBytes>();
                size = 0;
            }
            current.Add(w);
            size += w.Data.Length;
        }
        if (current.Count > 0) shards.Add(current);
        return shards;
    }

    /// <summary>Saving over an older save must not leave its weights behind: Load prefers model.safetensors, so a
    /// stale one would shadow new shards, and stale shards would confuse anyone listing the folder.</summary>
    static void RemoveStaleWeights(string folder, List<string> written)
    {
        var keep = written.ToHashSet(StringComparer.Ordinal);
        var stale = Directory.EnumerateFiles(folder)
            .Select(p => Path.GetFileName(p)!)
            .Where(n => !keep.Contains(n) && (n == SingleWeightsFile || n == IndexFile || IsShardName(n)));
        foreach (var name in stale) File.Delete(Path.Combine(folder, name));
    }

    static bool IsShardName(string name) =>
        System.Text.RegularExpressions.Regex.IsMatch(name, @"^model-\d{5}-of-\d{5}\.safetensors$");
}
