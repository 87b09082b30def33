using RlhfActors.Training.IO;
using ScottPlot;

namespace RlhfActors.Training.Metrics;

/// <summary>
/// PNG charts of runs' metrics histories (<see cref="ChartFigures"/> says which): x is the policy step, one line per
/// (run, stage). Several runs are overlaid, one colour each, with a legend naming them; a run's stages differ by
/// line pattern (and by colour too when there is one run). Used by <c>rlhf plot</c> and by a run when it ends
/// (<c>&lt;output_dir&gt;/charts/</c>). Each PNG is written atomically: a crash never leaves half a chart.
/// </summary>
public static class MetricsCharts
{
    public const string FolderName = "charts";

    /// <summary>ScottPlot's font lookup and caches are process-wide statics; rendering one chart at a time keeps two
    /// callers (a run ending while <c>rlhf plot</c> runs in the same silo, parallel tests) from racing on them.
    /// A chart takes tens of milliseconds, so nothing waits long.</summary>
    static readonly Lock RenderGate = new();

    /// <summary>Writes <c>&lt;output_dir&gt;/charts/*.png</c> from the run's own metrics.jsonl; returns the files.</summary>
    public static IReadOnlyList<string> WriteForRun(string outputDir) =>
        Write([ChartRun.Load(outputDir)], Path.Combine(outputDir, FolderName));

    /// <summary>Renders every chart of <paramref name="runs"/> into <paramref name="folder"/> (created when missing)
    /// and returns the files written, in chart order. <paramref name="rendered"/> hears (charts done, charts in
    /// all, file just written) after each chart: a terminal's progress line.</summary>
    public static IReadOnlyList<string> Write(IReadOnlyList<ChartRun> runs, string folder, Action<int, int, string>? rendered = null)
    {
        var figures = ChartFigures.For(runs);
        if (figures.Count > 0) Directory.CreateDirectory(folder);
        var written = new List<string>(figures.Count);
        foreach (var figure in figures)
        {
            var png = Render(figure, runs);
            var path = Path.Combine(folder, figure.FileName);
            AtomicFile.Write(path, stream => stream.Write(png));
            written.Add(path);
            rendered?.Invoke(written.Count, figures.Count, path);
        }
        return written;
    }

    /// <summary>One chart as PNG bytes, <see cref="ChartStyle.Width"/> × <see cref="ChartStyle.Height"/>.</summary>
    public static byte[] Render(ChartFigure figure, IReadOnlyList<ChartRun> runs)
    {
        ChartFont.Register();
        lock (RenderGate)
        {
            var plot = new Plot();
            foreach (var series in Series(figure.Name, runs))
            {
                var line = plot.Add.Scatter(series.Steps, series.Values);
                line.Color = Color.FromHex(series.Colour);
                line.LineWidth = ChartStyle.LineWidth;
                line.LinePattern = series.Pattern;
                line.MarkerShape = series.Marker;
                line.MarkerSize = series.Steps.Length <= ChartStyle.MarkersUpTo ? ChartStyle.MarkerSize : 0;
                line.LegendText = series.Label;
            }
            plot.Title(figure.Title);
            plot.XLabel("step");
            plot.YLabel(figure.Name);
            if (figure.IsFraction) plot.Axes.SetLimitsY(-0.02, 1.02);
            // Beside the data, never over it: a loss curve starts top left, an accuracy curve ends top right.
            plot.ShowLegend(Edge.Right);
            // Last, so that the title, labels and legend all take the embedded font.
            plot.Font.Set(ChartFont.Family);
            return plot.GetImageBytes(ChartStyle.Width, ChartStyle.Height, ImageFormat.Png);
        }
    }

    /// <summary>One line of a chart: a run's stage, its points in step order.</summary>
    sealed record ChartSeries(string Label, string Colour, LinePattern Pattern, MarkerShape Marker, double[] Steps, double[] Values);

    static IEnumerable<ChartSeries> Series(string figure, IReadOnlyList<ChartRun> runs)
    {
        for (int r = 0; r < runs.Count; r++)
        {
            // Stages in the order the run went through them; a stage without this figure draws nothing but keeps
            // its pattern, so a stage looks the same on every chart of the run.
            var stages = runs[r].Lines.Select(l => l.Stage).Distinct(StringComparer.Ordinal).ToList();
            for (int s = 0; s < stages.Count; s++)
            {
                var points = runs[r].Lines
                    .Where(l => l.Stage == stages[s] && l[figure] is { } v && double.IsFinite(v))
                    .OrderBy(l => l.Step)
                    .ToList();
                if (points.Count == 0) continue;
                var colour = ChartStyle.Palette[(runs.Count > 1 ? r : s) % ChartStyle.Palette.Count];
                var label = runs.Count > 1 ? $"{runs[r].Name} ({stages[s]})" : stages[s];
                yield return new ChartSeries(label, colour, ChartStyle.StagePatterns[s % ChartStyle.StagePatterns.Count],
                    ChartStyle.StageMarkers[s % ChartStyle.StageMarkers.Count],
                    [.. points.Select(p => (double)p.Step)], [.. points.Select(p => p[figure]!.Value)]);
            }
        }
    }
}
