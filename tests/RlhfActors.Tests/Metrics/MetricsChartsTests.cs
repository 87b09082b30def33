using RlhfActors.Tests.IO;
using RlhfActors.Training.Metrics;

namespace RlhfActors.Tests.Metrics;

/// <summary>
/// <see cref="MetricsCharts"/> on synthetic histories: every PNG is well-formed and the size asked, holds each
/// series' colour along its line and text in its title band, and a figure no run has gets no chart. Never the exact
/// bytes: fonts and anti-aliasing may change with SkiaSharp.
/// </summary>
public sealed class MetricsChartsTests : IDisposable
{
    /// <summary>Over three times what a legend swatch alone gives (about 40): a 2-pixel line across half the plot is
    /// about 1000 pixels solid, about 300 dashed.</summary>
    const int LinePixels = 150;

    readonly TempDirectory _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void Two_runs_of_two_stages_give_one_chart_per_figure_with_each_run_in_its_colour()
    {
        var runs = new[] { SyntheticRuns.Write(_folder.Path, "alpha"), SyntheticRuns.Write(_folder.Path, "beta", offset: 0.15) }
            .Select(ChartRun.Load).ToList();
        var charts = _folder.File("charts");

        var written = MetricsCharts.Write(runs, charts);

        Assert.Equal(["loss.png", "reward.png", "kl.png", "eval_accuracy.png", "learning_rate.png"], written.Select(Path.GetFileName));
        // No run has judge/agreement: no empty chart of it. Nothing half-written is left beside the charts.
        Assert.False(File.Exists(Path.Combine(charts, "judge_agreement.png")));
        Assert.Empty(Directory.GetFiles(charts, "*.tmp"));
        foreach (var path in written)
        {
            using var png = new PngImage(path);
            Assert.Equal((ChartStyle.Width, ChartStyle.Height), (png.HeaderWidth, png.HeaderHeight));
            Assert.Equal((ChartStyle.Width, ChartStyle.Height), (png.Width, png.Height));
            Assert.True(png.Count(ChartStyle.Palette[0]) >= LinePixels, $"{path}: alpha's colour in {png.Count(ChartStyle.Palette[0])} pixels");
            Assert.True(png.Count(ChartStyle.Palette[1]) >= LinePixels, $"{path}: beta's colour in {png.Count(ChartStyle.Palette[1])} pixels");
            // Colour is per run when runs are compared: no third colour for the second stage.
            Assert.True(png.Count(ChartStyle.Palette[2]) < 50, $"{path}: a third series colour in {png.Count(ChartStyle.Palette[2])} pixels");
            // The title is drawn (the embedded font works without system fonts): dark pixels above the plot's frame.
            Assert.True(png.Dark(0, 30) >= 100, $"{path}: {png.Dark(0, 30)} dark pixels in the title band");
        }
    }

    [Fact]
    public void One_run_colours_its_stages_apart()
    {
        var run = ChartRun.Load(SyntheticRuns.Write(_folder.Path, "solo"));

        var written = MetricsCharts.Write([run], _folder.File("charts"));

        using var loss = new PngImage(written.Single(p => Path.GetFileName(p) == "loss.png"));
        Assert.True(loss.Count(ChartStyle.Palette[0]) >= LinePixels, $"sft's colour in {loss.Count(ChartStyle.Palette[0])} pixels");
        Assert.True(loss.Count(ChartStyle.Palette[1]) >= LinePixels, $"grpo's (dashed) colour in {loss.Count(ChartStyle.Palette[1])} pixels");
        // Reward is GRPO's alone: its chart has the second stage's colour and not the first's (beyond a stray pixel).
        using var reward = new PngImage(written.Single(p => Path.GetFileName(p) == "reward.png"));
        Assert.True(reward.Count(ChartStyle.Palette[1]) >= LinePixels);
        Assert.True(reward.Count(ChartStyle.Palette[0]) < 50, $"sft's colour in {reward.Count(ChartStyle.Palette[0])} pixels of a GRPO-only chart");
    }

    [Fact]
    public void A_run_charts_itself_into_its_charts_folder_and_a_history_without_figures_charts_nothing()
    {
        var folder = SyntheticRuns.Write(_folder.Path, "finished");
        var written = MetricsCharts.WriteForRun(folder);
        Assert.All(written, p => Assert.Equal(Path.Combine(folder, MetricsCharts.FolderName), Path.GetDirectoryName(p)));
        Assert.Contains(written, p => Path.GetFileName(p) == "eval_accuracy.png");

        var empty = Path.Combine(_folder.Path, "empty");
        MetricsFile.Append(MetricsFile.PathIn(empty), [new MetricsLine(0, "sft", DateTimeOffset.UnixEpoch, 0, 0, new Dictionary<string, double>())]);
        Assert.Empty(MetricsCharts.WriteForRun(empty));
        Assert.False(Directory.Exists(Path.Combine(empty, MetricsCharts.FolderName)));
    }

    [Fact]
    public void File_names_are_the_figure_names_with_slashes_as_underscores()
    {
        Assert.Equal("eval_accuracy.png", ChartFigures.FileNameOf(MetricNames.EvalAccuracy));
        Assert.Equal("eval_arith_add_accuracy.png", ChartFigures.FileNameOf(MetricNames.Watched("arith_add")));
        Assert.Equal("judge_agreement.png", ChartFigures.FileNameOf(MetricNames.JudgeAgreement));
    }

    [Fact]
    public void The_charts_font_is_the_embedded_one_for_every_weight()
    {
        // Without it ScottPlot falls back to the machine's default face (DejaVu Serif here, nothing on a bare image).
        ChartFont.Register();
        foreach (var bold in new[] { false, true })
        {
            var face = ScottPlot.Fonts.GetTypeface(ChartFont.Family, bold, italic: false);
            Assert.Equal("DejaVu Sans", face.FamilyName);
            Assert.True(face.GlyphCount > 1000, $"{face.GlyphCount} glyphs");
        }
    }
}
