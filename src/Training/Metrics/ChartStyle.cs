namespace RlhfActors.Training.Metrics;

/// <summary>How every chart looks: its size, the series colours and the line patterns.</summary>
public static class ChartStyle
{
    public const int Width = 800;
    public const int Height = 500;

    /// <summary>Tableau 10, matplotlib's default cycle: the colours TRL's and TensorBoard's users already read.
    /// Several runs: one colour per run. One run: one colour per stage.</summary>
    public static readonly IReadOnlyList<string> Palette =
        ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

    /// <summary>A run's stages in the order they ran: solid, dashed, dotted, densely dashed. With colour per run
    /// when runs are compared, the pattern is what tells one run's stages apart.</summary>
    public static readonly IReadOnlyList<ScottPlot.LinePattern> StagePatterns =
        [ScottPlot.LinePattern.Solid, ScottPlot.LinePattern.Dashed, ScottPlot.LinePattern.Dotted, ScottPlot.LinePattern.DenselyDashed];

    /// <summary>A run's stages' markers, in the same order: the legend's short swatches show a marker's shape more
    /// plainly than a line's pattern.</summary>
    public static readonly IReadOnlyList<ScottPlot.MarkerShape> StageMarkers =
        [ScottPlot.MarkerShape.FilledCircle, ScottPlot.MarkerShape.FilledSquare, ScottPlot.MarkerShape.FilledTriangleUp, ScottPlot.MarkerShape.FilledDiamond];

    public const float LineWidth = 2;

    /// <summary>Sparse series (evaluations every N steps, one judge figure per round) get markers, or a single point
    /// would not show; dense ones do not, or the markers would hide the line.</summary>
    public const int MarkersUpTo = 25;
    public const float MarkerSize = 7;
}
