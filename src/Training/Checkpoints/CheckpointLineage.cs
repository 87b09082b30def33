using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace RlhfActors.Training.Checkpoints;

/// <summary>One input of a run (model.init, a dataset file, …) as its checkpoint recorded it, checked against what the
/// path holds now. <see cref="Origin"/> is the input's own lineage when it is itself a checkpoint.</summary>
public sealed record LineageInput(string Field, string? Path, string State, IReadOnlyList<string> Changed, CheckpointLineage? Origin);

/// <summary>
/// Where a verified checkpoint came from, read from its manifest's provenance: the run, its config hash (checked
/// against the recorded config JSON), the dataset hash, the code and libtorch versions, and each input file's hash
/// compared with what its path holds now. An input that is itself a checkpoint is traced the same way, so a chain of
/// runs (SFT → GRPO from its checkpoint) reads back to its first model, and a file changed anywhere in it shows.
/// </summary>
public sealed record CheckpointLineage(string Checkpoint, int Step, long TotalBytes, int FileCount,
    IReadOnlyDictionary<string, string> Provenance, bool ConfigHashMatches, IReadOnlyList<LineageInput> Inputs)
{
    /// <summary>How deep a chain of checkpoints is followed (each one is verified, so this bounds the hashing).</summary>
    public const int MaxDepth = 8;

    /// <summary>Verifies <paramref name="checkpoint"/> (throws <see cref="InvalidDataException"/> when its files do
    /// not match its manifest) and traces its inputs.</summary>
    public static CheckpointLineage Trace(string checkpoint, int depth = 0)
    {
        var manifest = CheckpointReader.Verify(checkpoint);
        var provenance = manifest.Provenance;
        var configJson = provenance.GetValueOrDefault("config_json");
        var hashMatches = configJson is not null && provenance.GetValueOrDefault("config_sha256") ==
            Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(configJson)));
        var inputs = new List<LineageInput>();
        if (provenance.GetValueOrDefault("inputs_sha256_json") is { Length: > 0 } inputsJson && JsonNode.Parse(inputsJson) is JsonObject recorded)
        {
            var config = configJson is null ? null : JsonNode.Parse(configJson);
            foreach (var (field, value) in recorded)
                inputs.Add(Input(field, PathOf(config, field), value, depth));
        }
        return new CheckpointLineage(checkpoint, manifest.Step, manifest.Files.Values.Sum(f => f.Bytes), manifest.Files.Count,
            provenance, hashMatches, inputs);
    }

    static LineageInput Input(string field, string? path, JsonNode? recorded, int depth)
    {
        if (path is null || !File.Exists(path) && !Directory.Exists(path)) return new LineageInput(field, path, "missing", [], null);
        try
        {
            if (recorded is JsonObject files)
            {
                var now = ModelFolderDigest.Compute(path);
                var changed = files.Where(f => now.GetValueOrDefault(f.Key) != f.Value?.GetValue<string>()).Select(f => f.Key)
                    .Concat(now.Keys.Where(k => !files.ContainsKey(k))).Order(StringComparer.Ordinal).ToArray();
                var origin = File.Exists(Path.Combine(path, CheckpointManifest.FileName)) && depth < MaxDepth ? Trace(path, depth + 1) : null;
                return new LineageInput(field, path, changed.Length == 0 ? "unchanged" : "changed", changed, origin);
            }
            var same = IO.Hashing.Sha256Hex(path) == recorded?.GetValue<string>();
            return new LineageInput(field, path, same ? "unchanged" : "changed", same ? [] : [Path.GetFileName(path)], null);
        }
        catch (InvalidDataException e)
        {
            // The input checkpoint no longer matches its own manifest.
            return new LineageInput(field, path, "corrupt", [e.Message], null);
        }
    }

    /// <summary>The path the recorded config gives for an input field (<c>model.init</c>, <c>dpo.pairs.train_file</c>).</summary>
    static string? PathOf(JsonNode? config, string field)
    {
        var node = config;
        foreach (var key in field.Split('.')) node = node is JsonObject obj ? obj[key] : null;
        return node is JsonValue value && value.TryGetValue<string>(out var path) ? path : null;
    }

    /// <summary>True when this checkpoint and every input along the chain are as recorded.</summary>
    public bool Intact => ConfigHashMatches && Inputs.All(i => i.State == "unchanged" && (i.Origin?.Intact ?? true));
}
