using System.Text.Json;
using System.Text.Json.Serialization;

namespace RlhfActors.Training.Checkpoints;

/// <summary>Size and hash of one file in a checkpoint.</summary>
public sealed record CheckpointFileEntry(
    [property: JsonPropertyName("sha256")] string Sha256,
    [property: JsonPropertyName("bytes")] long Bytes);

/// <summary>
/// <c>manifest.json</c>: the checkpoint's table of contents. It is written last, so its presence means the rest was
/// written; the hashes let a reader refuse a checkpoint that was truncated or altered afterwards.
/// </summary>
public sealed record CheckpointManifest
{
    public const string FileName = "manifest.json";
    public const string CurrentFormat = "rlhf-actors-checkpoint/1";

    [JsonPropertyName("format")] public string Format { get; init; } = CurrentFormat;
    [JsonPropertyName("step")] public int Step { get; init; }
    /// <summary>ISO 8601 UTC time of writing.</summary>
    [JsonPropertyName("created_utc")] public string CreatedUtc { get; init; } = "";
    /// <summary>File path relative to the checkpoint folder ('/'-separated: <c>adapter/adapter_config.json</c>) → size
    /// and SHA-256.</summary>
    [JsonPropertyName("files")] public IReadOnlyDictionary<string, CheckpointFileEntry> Files { get; init; } = new Dictionary<string, CheckpointFileEntry>();
    /// <summary>Where the checkpoint came from: config hash, dataset hash, code version, …</summary>
    [JsonPropertyName("provenance")] public IReadOnlyDictionary<string, string> Provenance { get; init; } = new Dictionary<string, string>();

    static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };

    public string ToJson() => JsonSerializer.Serialize(this with
    {
        // Sorted keys make the manifest (and so its hash) depend only on content, not on dictionary order.
        Files = new SortedDictionary<string, CheckpointFileEntry>(Files.ToDictionary(), StringComparer.Ordinal),
        Provenance = new SortedDictionary<string, string>(Provenance.ToDictionary(), StringComparer.Ordinal),
    }, JsonOptions);

    /// <summary>Parses manifest text; <paramref name="source"/> names the checkpoint in errors.</summary>
    public static CheckpointManifest Parse(string json, string source)
    {
        CheckpointManifest? manifest;
        try { manifest = JsonSerializer.Deserialize<CheckpointManifest>(json, JsonOptions); }
        catch (JsonException e) { throw Corrupt(source, $"{FileName} is not valid JSON ({e.Message})", e); }
        if (manifest is null) throw Corrupt(source, $"{FileName} is empty (null)");
        if (manifest.Format != CurrentFormat)
            throw Corrupt(source, $"{FileName} field 'format' is '{manifest.Format}', expected '{CurrentFormat}'");
        if (manifest.Step < 0) throw Corrupt(source, $"{FileName} field 'step' is {manifest.Step}, must be >= 0");
        if (manifest.Files is null) throw Corrupt(source, $"{FileName} field 'files' is missing");
        foreach (var (name, entry) in manifest.Files)
        {
            // Names are files inside the checkpoint folder; '..', rooted paths or backslashes could make verification
            // read elsewhere, so each '/'-separated part must be a plain file name.
            if (!IsRelativeFilePath(name))
                throw Corrupt(source, $"{FileName} lists '{name}', which is not a plain file name or a '/'-separated path inside the checkpoint");
            if (entry is null || string.IsNullOrEmpty(entry.Sha256) || entry.Bytes < 0)
                throw Corrupt(source, $"{FileName} entry for {name} needs 'sha256' and a non-negative 'bytes'");
        }
        return manifest with { Provenance = manifest.Provenance ?? new Dictionary<string, string>() };
    }

    /// <summary>True for <c>model.safetensors</c> or <c>adapter/adapter_config.json</c>: '/'-separated parts, each a
    /// plain file name (not empty, not '.' or '..', no '\' or ':').</summary>
    public static bool IsRelativeFilePath(string name) =>
        name.Length > 0 && name.Split('/').All(part =>
            part.Length > 0 && part is not "." and not ".." && part == Path.GetFileName(part)
            && !part.Contains('\\') && !part.Contains(':'));

    internal static InvalidDataException Corrupt(string checkpoint, string what, Exception? inner = null) =>
        new($"checkpoint {checkpoint} is corrupt: {what}; refusing to load", inner);
}
