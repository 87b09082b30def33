using RlhfActors.Training.IO;

namespace RlhfActors.Training.Checkpoints;

/// <summary>
/// What a model folder held when it was read, as file → SHA-256. A folder with a <c>manifest.json</c> (one of our
/// checkpoints) is verified first: a file whose hash differs from the manifest's is refused, with both hashes, by
/// <see cref="CheckpointReader.Verify"/>. A folder without one (a plain Hugging Face or PEFT folder) is accepted and
/// its files hashed, so a run records what it started from, not only a path.
/// </summary>
public static class ModelFolderDigest
{
    /// <summary>Weights formats the loaders never read (pickles, other frameworks): hashing them would cost time
    /// without describing what was loaded.</summary>
    static readonly string[] NeverRead = [".bin", ".pt", ".pth", ".h5", ".msgpack", ".onnx", ".gguf", ".ckpt"];

    public static SortedDictionary<string, string> Compute(string folder)
    {
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"model folder {folder} does not exist");
        var result = new SortedDictionary<string, string>(StringComparer.Ordinal);
        if (File.Exists(Path.Combine(folder, CheckpointManifest.FileName)))
        {
            foreach (var (name, entry) in CheckpointReader.Verify(folder).Files) result[name] = entry.Sha256;
            return result;
        }
        foreach (var path in Directory.EnumerateFiles(folder).Order(StringComparer.Ordinal))
        {
            var name = Path.GetFileName(path);
            if (NeverRead.Any(ext => name.EndsWith(ext, StringComparison.OrdinalIgnoreCase))) continue;
            result[name] = Hashing.Sha256Hex(path);
        }
        return result;
    }

    /// <summary>One SHA-256 for a whole folder: over the lines <c>"&lt;sha256&gt;  &lt;name&gt;\n"</c> of
    /// <paramref name="files"/> in ordinal name order (what <c>sha256sum</c> prints), so anyone can recompute it with
    /// standard tools, and a file renamed, added or changed changes it.</summary>
    public static string Combined(IReadOnlyDictionary<string, string> files)
    {
        ArgumentNullException.ThrowIfNull(files);
        var lines = new System.Text.StringBuilder();
        foreach (var name in files.Keys.Order(StringComparer.Ordinal)) lines.Append(files[name]).Append("  ").Append(name).Append('\n');
        return Hashing.Sha256Hex(System.Text.Encoding.UTF8.GetBytes(lines.ToString()));
    }

    /// <summary>Verifies the folder's manifest when it has one; a plain folder passes. Throws
    /// <see cref="InvalidDataException"/> naming the file and both hashes on a mismatch.</summary>
    public static void VerifyIfCheckpoint(string folder)
    {
        if (File.Exists(Path.Combine(folder, CheckpointManifest.FileName))) CheckpointReader.Verify(folder);
    }
}
