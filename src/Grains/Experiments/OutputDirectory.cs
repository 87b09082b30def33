using System.Globalization;

namespace RlhfActors.Grains.Experiments;

/// <summary>Layout of an experiment's output_dir: one <c>checkpoint-&lt;step&gt;</c> folder per checkpoint, as in
/// Hugging Face's Trainer.</summary>
public static class OutputDirectory
{
    const string Prefix = "checkpoint-";

    public static string Checkpoint(string outputDir, int step) =>
        Path.Combine(outputDir, Prefix + step.ToString(CultureInfo.InvariantCulture));

    /// <summary>The name of a checkpoint an earlier run left in <paramref name="outputDir"/>, or null. A new run
    /// refuses such a folder rather than overwrite or mix with another run's checkpoints.</summary>
    public static string? EarlierCheckpoint(string outputDir) =>
        Directory.Exists(outputDir)
            ? Directory.EnumerateFileSystemEntries(outputDir, Prefix + "*").Select(Path.GetFileName).Order(StringComparer.Ordinal).FirstOrDefault()
            : null;
}
