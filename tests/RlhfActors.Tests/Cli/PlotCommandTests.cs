using RlhfActors.Tests.IO;
using RlhfActors.Tests.Metrics;

namespace RlhfActors.Tests.Cli;

/// <summary><c>rlhf plot</c> in-process: the files it lists are there; a bad run path is a usage error that writes nothing.</summary>
public sealed class PlotCommandTests : IDisposable
{
    readonly TempDirectory _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task Two_runs_overlaid_into_out_lists_every_chart_written()
    {
        var alpha = SyntheticRuns.Write(_folder.Path, "alpha");
        var beta = SyntheticRuns.Write(_folder.Path, "beta", offset: 0.15);
        var charts = _folder.File("compare");

        // One run as its folder, the other as its metrics.jsonl file.
        var run = await CliRunner.RunAsync("plot", alpha, Path.Combine(beta, "metrics.jsonl"), "--out", charts);

        Assert.True(run.ExitCode == 0, run.ToString());
        var listed = run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.EndsWith(".png", StringComparison.Ordinal)).ToList();
        Assert.Equal(5, listed.Count);
        Assert.All(listed, path => Assert.True(File.Exists(path), path));
        Assert.Contains(Path.Combine(charts, "loss.png"), listed);
        Assert.Contains("5 charts of 2 runs (160 metrics lines)", run.Stdout);
        // Off a terminal no status line is drawn: stdout is the result alone.
        Assert.DoesNotContain('\r', run.Stdout);
    }

    [Fact]
    public async Task Without_out_the_charts_go_to_the_first_runs_charts_folder()
    {
        var alpha = SyntheticRuns.Write(_folder.Path, "alpha");

        var run = await CliRunner.RunAsync("plot", alpha);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.True(File.Exists(Path.Combine(alpha, "charts", "kl.png")), run.ToString());
    }

    [Fact]
    public async Task A_missing_run_folder_exits_2_without_a_stack_trace_and_writes_nothing()
    {
        var alpha = SyntheticRuns.Write(_folder.Path, "alpha");
        var charts = _folder.File("out");

        var run = await CliRunner.RunAsync("plot", alpha, _folder.File("no-such-run"), "--out", charts);

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("error: plot:", run.Stderr);
        Assert.Contains("no-such-run does not exist", run.Stderr);
        Assert.DoesNotContain("   at ", run.Stderr);
        Assert.False(Directory.Exists(charts));
    }

    [Fact]
    public async Task A_folder_without_metrics_or_a_malformed_line_exits_2()
    {
        var bare = Directory.CreateDirectory(_folder.File("bare")).FullName;
        var noMetrics = await CliRunner.RunAsync("plot", bare);
        Assert.Equal(2, noMetrics.ExitCode);
        Assert.Contains("holds no metrics.jsonl", noMetrics.Stderr);

        var torn = Directory.CreateDirectory(_folder.File("torn")).FullName;
        File.WriteAllText(Path.Combine(torn, "metrics.jsonl"), "{\"step\": 1, \"stage\": \"sft\"}\nnot json\n");
        var malformed = await CliRunner.RunAsync("plot", torn);
        Assert.Equal(2, malformed.ExitCode);
        Assert.Contains("metrics.jsonl:2", malformed.Stderr);
        Assert.False(Directory.Exists(Path.Combine(torn, "charts")));
    }
}

/// <summary>A run that completes draws its own charts into <c>&lt;output_dir&gt;/charts/</c> (the controller, after the
/// final checkpoint), from the metrics.jsonl that checkpoint flushed.</summary>
public sealed class RunChartsTests : IDisposable
{
    readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task A_completed_tiny_sft_run_leaves_its_loss_and_accuracy_charts()
    {
        var output = Path.Combine(_folder.Path, "run");
        var run = await CliRunner.RunAsync("run", _folder.Write("tiny.yaml", TinyYaml.Text(output)), "--json");

        Assert.True(run.ExitCode == 0, run.ToString());
        var charts = Path.Combine(output, "charts");
        foreach (var name in new[] { "loss.png", "eval_accuracy.png" })
        {
            using var png = new PngImage(Path.Combine(charts, name));
            Assert.Equal((800, 500), (png.Width, png.Height));
            Assert.True(png.Count(RlhfActors.Training.Metrics.ChartStyle.Palette[0]) >= 100, name);
        }
        Assert.Empty(Directory.GetFiles(charts, "*.tmp"));
    }
}
