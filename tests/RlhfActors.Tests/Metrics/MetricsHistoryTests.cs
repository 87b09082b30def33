using RlhfActors.Client;
using RlhfActors.Tests.Cli;
using RlhfActors.Training.Metrics;

namespace RlhfActors.Tests.Metrics;

/// <summary>A real run's history through the grains: a line per logged step with the learner's figures, the
/// evaluations on their steps, TensorBoard event files that say the same, and a resume that writes no step twice.</summary>
public sealed class MetricsHistoryTests : IDisposable
{
    readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    string Yaml(string output)
    {
        var text = TinyYaml.Text(output);
        text = TinyYaml.With(text, "  every: 0", "  every: 10\n  keep: 0");
        return text + "\nlogging_steps: 5\nreport_to: [jsonl, tensorboard]\n";
    }

    [Fact]
    public async Task A_run_logs_every_period_and_its_evaluations_and_a_resume_writes_no_step_twice()
    {
        var output = Path.Combine(_folder.Path, "out");
        var yaml = _folder.Write("x.yaml", Yaml(output));
        var run = await CliRunner.RunAsync("run", yaml, "--json");
        Assert.True(run.ExitCode == 0, run.ToString());

        var path = MetricsFile.PathIn(output);
        var lines = MetricsFile.Read(path);
        Assert.Equal([0, 5, 10, 15, 20, 25, 30], lines.Select(l => l.Step));
        Assert.All(lines, l => Assert.Equal("sft", l.Stage));
        Assert.All(lines.Skip(1), l =>
        {
            Assert.True(l[MetricNames.Loss] is > 0 and < 10, $"loss at {l.Step}: {l[MetricNames.Loss]}");
            Assert.True(l[MetricNames.LearningRate] > 0);
            Assert.True(l[MetricNames.GradNorm] > 0);
            Assert.True(l[MetricNames.TokensPerSecond] > 0);
        });
        Assert.Equal([0, 15, 30], lines.Where(l => l[MetricNames.EvalAccuracy] is not null).Select(l => l.Step));
        Assert.True(lines.Zip(lines.Skip(1)).All(p => p.First.WallSeconds <= p.Second.WallSeconds), "wall time goes back");
        var result = CliRunner.LastJson(run.Stdout);
        Assert.Equal(result.GetProperty("eval").GetProperty("accuracy_after").GetDouble(), lines[^1][MetricNames.EvalAccuracy]);

        // TensorBoard says the same: every figure of every line, once.
        var scalars = EventScalars(output);
        Assert.Equal(lines.Sum(l => l.Values.Count), scalars.Length);
        Assert.Equal(lines.Where(l => l[MetricNames.Loss] is not null).Select(l => (long)l.Step), scalars.Where(s => s.Tag == MetricNames.Loss).Select(s => s.Step));
        Assert.Equal((float)lines[^1][MetricNames.Loss]!.Value, scalars.Last(s => s.Tag == MetricNames.Loss).Value);

        // As if the process had died after step 20's checkpoint, with the history written to step 30.
        Directory.Delete(Path.Combine(output, "checkpoint-30"), recursive: true);
        var resumed = await CliRunner.RunAsync("run", yaml, "--resume", "--json");
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        var after = MetricsFile.Read(path);
        Assert.Equal([0, 5, 10, 15, 20, 25, 30], after.Select(l => l.Step));
        // Steps up to the checkpoint are the first run's lines, unchanged; the later ones were logged again.
        Assert.Equal(lines.Take(5).Select(l => l.ToJson()), after.Take(5).Select(l => l.ToJson()));
        var rescalars = EventScalars(output);
        Assert.Equal(after.Sum(l => l.Values.Count), rescalars.Length);
        Assert.Equal(rescalars.Length, rescalars.DistinctBy(s => (s.Tag, s.Step)).Count());

        // rlhf metrics prints the history; --json as the file holds it.
        var printed = await CliRunner.RunAsync("metrics", output);
        Assert.True(printed.ExitCode == 0, printed.ToString());
        Assert.Equal(7, printed.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.StartsWith("step 0  sft  v0  eval/accuracy ", printed.Stdout);
        var json = await CliRunner.RunAsync("metrics", path, "--json");
        Assert.Equal(File.ReadAllText(path), json.Stdout.ReplaceLineEndings("\n"));
        var followed = await CliRunner.RunAsync("metrics", output, "--follow", "--timeout", "1.5");
        Assert.True(followed.ExitCode == 0, followed.ToString());
        Assert.Equal(printed.Stdout, followed.Stdout);
    }

    [Fact]
    public async Task Metrics_of_a_missing_folder_is_a_usage_error()
    {
        var missing = await CliRunner.RunAsync("metrics", Path.Combine(_folder.Path, "nothing-here"));
        Assert.True(missing.ExitCode == ExitCodes.Usage, missing.ToString());
        Assert.Contains("does not exist", missing.Stderr);
    }

    static TfEventReader.Scalar[] EventScalars(string output)
    {
        var files = Directory.GetFiles(TensorBoardEvents.FolderIn(output), "events.out.tfevents.*");
        Assert.NotEmpty(files);
        return [.. files.Select(TfEventReader.Read).SelectMany(f =>
        {
            Assert.Equal("brain.Event:2", f.FileVersion);
            return f.Scalars;
        }).OrderBy(s => s.Step)];
    }
}
