using RlhfActors.Abstractions.Config;
using RlhfActors.Training.Metrics;

namespace RlhfActors.Grains.Experiments.Stages;

/// <summary>
/// The run's metrics history as the controller writes it (<c>&lt;output_dir&gt;/metrics.jsonl</c>, and TensorBoard
/// under <c>report_to: [tensorboard]</c>). A stage reports every update's figures (<see cref="Update"/>); every
/// <c>logging_steps</c> policy steps one line holds their means over the window since the last line, as TRL logs
/// them, plus the running totals as they stand. Evaluations, judge agreement and stage ends are logged at the step
/// they happen (<see cref="At"/>), merged into that step's line. Lines are written at the end of every controller
/// tick and before every checkpoint; the file's length is kept in the record and in the checkpoint's cursor, and a
/// resume cuts the file back to it (<see cref="Restore"/>), so a step is never written twice.
/// </summary>
public sealed class RunMetrics(Func<ExperimentRecord> record, Func<ExperimentStage?> runningStage)
{
    readonly SortedDictionary<(int Step, string Stage), Pending> _pending = [];
    readonly Dictionary<string, (double Sum, int Count)> _window = new(StringComparer.Ordinal);
    TensorBoardEvents? _tensorboard;

    sealed class Pending(DateTimeOffset time, double wallSeconds, long version)
    {
        public DateTimeOffset Time { get; } = time;
        public double WallSeconds { get; } = wallSeconds;
        public long Version { get; set; } = version;
        public Dictionary<string, double> Values { get; } = new(StringComparer.Ordinal);
    }

    ExperimentRecord Record => record();
    ExperimentConfig Config => Record.Config!;
    string Stage => runningStage()?.Name ?? Record.Status.Stage;

    /// <summary>One update's figures at policy step <paramref name="step"/>: <paramref name="means"/> are averaged over
    /// the logging window, <paramref name="totals"/> (running counts) are logged as they stand. <paramref name="force"/>
    /// logs this step whatever the period (a stage's last).</summary>
    public void Update(int step, IReadOnlyDictionary<string, double> means, IReadOnlyDictionary<string, double>? totals = null, bool force = false)
    {
        foreach (var (name, value) in means)
        {
            if (!double.IsFinite(value)) continue;
            var (sum, count) = _window.GetValueOrDefault(name);
            _window[name] = (sum + value, count + 1);
        }
        if (!force && step % Config.Logging.LoggingSteps != 0) return;
        var line = LineAt(step);
        foreach (var (name, (sum, count)) in _window) line.Values[name] = sum / count;
        _window.Clear();
        foreach (var (name, value) in totals ?? new Dictionary<string, double>()) line.Values[name] = value;
    }

    /// <summary>Logs what the window holds at <paramref name="step"/> (a stage's or a round's end), if anything.</summary>
    public void CloseWindow(int step)
    {
        if (_window.Count > 0) Update(step, new Dictionary<string, double>(), force: true);
    }

    /// <summary>Figures that are always logged (evaluations, judge agreement), merged into step <paramref name="step"/>'s line.</summary>
    public void At(int step, IReadOnlyDictionary<string, double> values, long? version = null)
    {
        var line = LineAt(step);
        if (version is { } v) line.Version = v;
        foreach (var (name, value) in values) line.Values[name] = value;
    }

    Pending LineAt(int step)
    {
        var key = (step, Stage);
        if (!_pending.TryGetValue(key, out var line))
        {
            var now = DateTimeOffset.UtcNow;
            _pending[key] = line = new Pending(now, Record.StartedAt is { } started ? (now - started).TotalSeconds : 0, Record.Status.PolicyVersion);
        }
        return line;
    }

    /// <summary>Writes the pending lines in step order and records the file's new length; null, or why they could
    /// not be written (they stay pending: a later flush writes them; a resume from a checkpoint written meanwhile
    /// recomputes them). The line of the step the run stands at is held back unless <paramref name="all"/> (a
    /// checkpoint, the run's end): a later tick may still add to it (the final evaluation after the last stage's
    /// last update), and a line once written is never written again.</summary>
    public string? TryFlush(bool all = false)
    {
        var open = (Record.Status.Step, Stage);
        var ready = _pending.Where(p => all || p.Key != open).ToArray();
        if (ready.Length == 0) return null;
        var lines = ready.Select(p => new MetricsLine(p.Key.Step, p.Key.Stage, p.Value.Time, p.Value.WallSeconds, p.Value.Version, p.Value.Values)).ToArray();
        var path = MetricsFile.PathIn(Config.OutputDir);
        try
        {
            // A failed append may have written part of the lines: cut back to the last length known whole.
            MetricsFile.TruncateTo(path, Record.MetricsBytes);
            Record.MetricsBytes = MetricsFile.Append(path, lines);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return e.Message;
        }
        foreach (var (key, _) in ready) _pending.Remove(key);
        try
        {
            if (Config.Logging.Reports(ReportTarget.Tensorboard))
            {
                _tensorboard ??= TensorBoardEvents.Rebuild(Config.OutputDir, MetricsFile.Read(path).SkipLast(lines.Length));
                foreach (var line in lines) _tensorboard.Write(line);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The next flush rebuilds the event files from metrics.jsonl.
            _tensorboard = null;
            return $"TensorBoard: {e.Message}";
        }
        return null;
    }

    /// <summary>A new run, or one continuing from its record or a checkpoint: the file is cut back to the length the
    /// record holds (0 for a new run), unwritten lines and the window are dropped, and the TensorBoard files are
    /// rebuilt from what remains.</summary>
    public void Restore()
    {
        _pending.Clear();
        _window.Clear();
        var path = MetricsFile.PathIn(Config.OutputDir);
        MetricsFile.TruncateTo(path, Record.MetricsBytes);
        _tensorboard = Config.Logging.Reports(ReportTarget.Tensorboard) ? TensorBoardEvents.Rebuild(Config.OutputDir, MetricsFile.Read(path)) : null;
    }
}
