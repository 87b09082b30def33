using RlhfActors.Training.Metrics;

namespace RlhfActors.Tests.Metrics;

/// <summary>What the pipeline tests check of a finished run's metrics.jsonl: one line per (stage, step), and the
/// figures each stage must log.</summary>
public static class RunHistory
{
    public static IReadOnlyList<MetricsLine> Read(string outputDir)
    {
        var lines = MetricsFile.Read(MetricsFile.PathIn(outputDir));
        Assert.NotEmpty(lines);
        Assert.Equal(lines.Count, lines.DistinctBy(l => (l.Stage, l.Step)).Count());
        return lines;
    }

    /// <summary>The last line of <paramref name="stage"/> holds every one of <paramref name="figures"/>, finite.</summary>
    public static MetricsLine AssertLast(IReadOnlyList<MetricsLine> lines, string stage, params string[] figures)
    {
        var last = lines.LastOrDefault(l => l.Stage == stage && figures.All(f => l[f] is not null));
        Assert.True(last is not null, $"no {stage} line holds {string.Join(", ", figures)}; lines:\n{string.Join("\n", lines.Select(l => l.ToJson()))}");
        Assert.All(figures, f => Assert.True(double.IsFinite(last[f]!.Value), $"{stage} {f} = {last[f]}"));
        return last;
    }
}
