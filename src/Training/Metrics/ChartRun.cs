namespace RlhfActors.Training.Metrics;

/// <summary>One run's history as a chart shows it: the name its legend entries carry, and its metrics lines.</summary>
public sealed record ChartRun(string Name, string MetricsPath, IReadOnlyList<MetricsLine> Lines)
{
    /// <summary>The metrics file a run argument means: a run's output folder (its metrics.jsonl) or the file itself.
    /// Throws <see cref="FileNotFoundException"/> with a sentence a person can act on.</summary>
    public static string MetricsPathOf(string run)
    {
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(run));
        if (Directory.Exists(full))
        {
            var file = MetricsFile.PathIn(full);
            return File.Exists(file) ? file
                : throw new FileNotFoundException($"{full} holds no {MetricsFile.FileName} (not a run's output folder, or the run has logged nothing yet)", file);
        }
        return File.Exists(full) ? full : throw new FileNotFoundException($"{full} does not exist", full);
    }

    /// <summary>Reads a run (see <see cref="MetricsPathOf"/>); named after the folder that holds its metrics file.
    /// A malformed line throws <see cref="InvalidDataException"/> naming its file and line.</summary>
    public static ChartRun Load(string run)
    {
        var path = MetricsPathOf(run);
        return new ChartRun(NameOf(path), path, MetricsFile.Read(path));
    }

    /// <summary>The output folder's name (runs/grpo-demo/metrics.jsonl → grpo-demo), the name a person gave the run.</summary>
    public static string NameOf(string metricsPath) =>
        Path.GetFileName(Path.GetDirectoryName(Path.GetFullPath(metricsPath))) is { Length: > 0 } folder ? folder
            : Path.GetFileNameWithoutExtension(metricsPath);
}
