using RlhfActors.Abstractions.Config;
using RlhfActors.Grains.Experiments;
using RlhfActors.Grains.Experiments.Stages;
using RlhfActors.Training.Metrics;

namespace RlhfActors.Tests.Metrics;

/// <summary>The controller's logging rule: means over each logging_steps window, totals as they stand, evaluations
/// merged into their step's line, one line per (stage, step), and a restore that cuts the file back.</summary>
public sealed class RunMetricsTests : IDisposable
{
    readonly string _folder = Directory.CreateTempSubdirectory("rlhf-runmetrics-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    ExperimentRecord NewRecord(ReportTarget[]? report = null) => new()
    {
        Config = new ExperimentConfig { Name = "m", OutputDir = _folder, Logging = new LoggingSection { LoggingSteps = 3, ReportTo = [.. report ?? [ReportTarget.Jsonl]] } },
        StartedAt = DateTimeOffset.UtcNow,
    };

    [Fact]
    public void Windows_are_averaged_totals_kept_and_evaluations_land_on_their_step()
    {
        var record = NewRecord();
        var metrics = new RunMetrics(() => record, () => null);
        metrics.At(0, new Dictionary<string, double> { [MetricNames.EvalAccuracy] = 0.1 });
        for (int step = 1; step <= 7; step++)
            metrics.Update(step, new Dictionary<string, double> { ["loss"] = step }, new Dictionary<string, double> { ["rollouts/stale"] = step * 10 },
                force: step == 7);
        metrics.At(6, new Dictionary<string, double> { [MetricNames.EvalAccuracy] = 0.5 });
        // The line of the step the run stands at waits: the final evaluation of a later tick lands on it.
        record.Status = record.Status with { Step = 7 };
        Assert.Null(metrics.TryFlush());
        Assert.Equal([0, 3, 6], MetricsFile.Read(MetricsFile.PathIn(_folder)).Select(l => l.Step));
        metrics.At(7, new Dictionary<string, double> { [MetricNames.EvalAccuracy] = 0.7 });
        Assert.Null(metrics.TryFlush(all: true));

        var lines = MetricsFile.Read(MetricsFile.PathIn(_folder));
        Assert.Equal([0, 3, 6, 7], lines.Select(l => l.Step));
        Assert.Null(lines[0]["loss"]);
        Assert.Equal(0.1, lines[0][MetricNames.EvalAccuracy]);
        Assert.Equal(2.0, lines[1]["loss"]); // (1 + 2 + 3) / 3
        Assert.Equal(30.0, lines[1]["rollouts/stale"]);
        Assert.Equal(5.0, lines[2]["loss"]);
        Assert.Equal(0.5, lines[2][MetricNames.EvalAccuracy]);
        Assert.Equal(7.0, lines[3]["loss"]);
        Assert.Equal(0.7, lines[3][MetricNames.EvalAccuracy]);
        Assert.Equal(new FileInfo(MetricsFile.PathIn(_folder)).Length, record.MetricsBytes);
    }

    [Fact]
    public void A_restore_cuts_the_history_back_to_the_recorded_length_and_rebuilds_tensorboard()
    {
        var record = NewRecord([ReportTarget.Jsonl, ReportTarget.Tensorboard]);
        var metrics = new RunMetrics(() => record, () => null);
        for (int step = 1; step <= 6; step++) metrics.Update(step, new Dictionary<string, double> { ["loss"] = step });
        metrics.TryFlush(all: true);
        var atSix = record.MetricsBytes;
        for (int step = 7; step <= 9; step++) metrics.Update(step, new Dictionary<string, double> { ["loss"] = step });
        metrics.TryFlush(all: true);

        // As a resume from a checkpoint written at step 6: the next activation's metrics start from its length.
        record.MetricsBytes = atSix;
        var resumed = new RunMetrics(() => record, () => null);
        resumed.Restore();
        for (int step = 7; step <= 9; step++) resumed.Update(step, new Dictionary<string, double> { ["loss"] = 100 + step });
        resumed.TryFlush(all: true);

        var lines = MetricsFile.Read(MetricsFile.PathIn(_folder));
        Assert.Equal([3, 6, 9], lines.Select(l => l.Step));
        Assert.Equal(108.0, lines[2]["loss"]);
        var events = Directory.GetFiles(TensorBoardEvents.FolderIn(_folder), "events.out.tfevents.*");
        var scalars = events.SelectMany(e => TfEventReader.Read(e).Scalars).Where(s => s.Tag == "loss").ToArray();
        Assert.Equal([3L, 6L, 9L], scalars.Select(s => s.Step).Order());
        Assert.Equal(108f, scalars.Single(s => s.Step == 9).Value);
    }
}
