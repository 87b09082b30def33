using System.Globalization;

namespace RlhfActors.Grains.Experiments;

/// <summary>Layout of an experiment's output_dir: one <c>checkpoint-&lt;step&gt;</c> folder per checkpoint, as in
/// Hugging Face's Trainer.</summary>
public static class OutputDirectory
{
    const string Prefix = "checkpoint-";
    const string CriticPrefix = "critic-";
    const string RewardModelFolder = "reward_model";

    public static string Checkpoint(string outputDir, int step) =>
        Path.Combine(outputDir, Prefix + step.ToString(CultureInfo.InvariantCulture));

    /// <summary>A PPO run's critic at <c>checkpoint-&lt;step&gt;</c> (its own verified folder, written by the critic's
    /// grain just before the learner writes the checkpoint; pruned with it).</summary>
    public static string Critic(string outputDir, int step) =>
        Path.Combine(outputDir, CriticPrefix + step.ToString(CultureInfo.InvariantCulture));

    /// <summary>The checkpoint folders in <paramref name="outputDir"/>, newest step first (staging folders of a write
    /// that never finished, <c>checkpoint-N.tmp-…</c>, are not checkpoints and are left out).</summary>
    public static IReadOnlyList<(int Step, string Path)> Checkpoints(string outputDir) =>
        Directory.Exists(outputDir)
            ? [.. Directory.EnumerateDirectories(outputDir, Prefix + "*")
                .Select(path => (Ok: int.TryParse(Path.GetFileName(path)[Prefix.Length..], NumberStyles.None, CultureInfo.InvariantCulture, out var step), Step: step, Path: path))
                .Where(c => c.Ok)
                .OrderByDescending(c => c.Step)
                .Select(c => (c.Step, c.Path))]
            : [];

    /// <summary>Deletes all but the newest <paramref name="keep"/> checkpoints (0: none) and those in
    /// <paramref name="pinned"/> (full paths a running stage still reads); the names of those deleted. A folder that
    /// cannot be deleted is left, and named in the exception.</summary>
    public static IReadOnlyList<string> Prune(string outputDir, int keep, IReadOnlyCollection<string>? pinned = null)
    {
        if (keep <= 0) return [];
        var deleted = new List<string>();
        var kept = (pinned ?? []).Select(p => Path.GetFullPath(p)).ToHashSet(StringComparer.Ordinal);
        foreach (var (_, path) in Checkpoints(outputDir).Skip(keep))
        {
            if (kept.Contains(Path.GetFullPath(path))) continue;
            Directory.Delete(path, recursive: true);
            deleted.Add(Path.GetFileName(path));
            var critic = Path.Combine(outputDir, CriticPrefix + Path.GetFileName(path)[Prefix.Length..]);
            if (Directory.Exists(critic)) Directory.Delete(critic, recursive: true);
        }
        return deleted;
    }

    /// <summary>The reward model a PPO or RLAIF run trained (its reward or its judge), for reward_model.init.</summary>
    public static string RewardModel(string outputDir) => Path.Combine(outputDir, RewardModelFolder);

    /// <summary>The name of a checkpoint (or reward model) an earlier run left in <paramref name="outputDir"/>, or
    /// null. A new run refuses such a folder rather than overwrite or mix with another run's output.</summary>
    public static string? EarlierCheckpoint(string outputDir) =>
        Directory.Exists(outputDir)
            ? Directory.EnumerateFileSystemEntries(outputDir, Prefix + "*")
                .Concat(Directory.EnumerateFileSystemEntries(outputDir, CriticPrefix + "*"))
                .Concat(Directory.EnumerateFileSystemEntries(outputDir, RewardModelFolder))
                .Select(Path.GetFileName).Order(StringComparer.Ordinal).FirstOrDefault()
            : null;
}
