using System.Globalization;
using RlhfActors.Abstractions.Experiments;

namespace RlhfActors.Client.Progress;

/// <summary>
/// Shows a run's progress. On a terminal: one line redrawn in place (step/total, loss, lr, tokens/s, ETA) plus a
/// permanent line per evaluation. Otherwise (a pipe, a log file, <c>--json</c>): plain lines, one per evaluation and
/// one per tenth of the steps, so logs stay short and readable. Both: a permanent line when a stage starts and when
/// it ends (with its eval/ figures), and one per RLAIF round — a reward model's training counts no policy steps, so
/// without them a PPO or RLAIF log would sit silent through it.
/// </summary>
public sealed class ProgressReporter(TextWriter output, bool interactive)
{
    int _evalsShown, _stagesShown, _roundsShown;
    string _stage = "";
    int _lastTenth = -1;
    string _lastPhase = "";
    int _resumesShown;
    int _drawnWidth;

    public void Report(ExperimentStatus status)
    {
        // A resume drops the evaluations after its checkpoint (they are taken again): shown ones stay shown. Otherwise
        // fewer evaluations mean a new run (same display, restarted experiment), which starts its history again.
        if (status.Resumes > _resumesShown) _evalsShown = Math.Min(_evalsShown, status.Evals.Length);
        else if (status.Evals.Length < _evalsShown) (_evalsShown, _stagesShown, _roundsShown, _stage) = (0, 0, 0, "");
        for (; _evalsShown < status.Evals.Length; _evalsShown++)
            WriteLine(FormatEval(status.ExperimentId, status.Evals[_evalsShown]));
        // In story order: earlier stages done, the current stage started, its rounds, the current stage done.
        var stages = status.Stages.IsDefault ? [] : status.Stages;
        int earlier = stages.Length > 0 && stages[^1].Name == status.Stage ? stages.Length - 1 : stages.Length;
        for (; _stagesShown < earlier; _stagesShown++)
            WriteLine(FormatStage(status.ExperimentId, stages[_stagesShown]));
        // The first stage (sft) starts with the run; a later one is news.
        if (_stage.Length > 0 && status.Stage != _stage)
            WriteLine($"[{status.ExperimentId}] stage {status.Stage} started");
        _stage = status.Stage;
        var rounds = status.Rounds.IsDefault ? [] : status.Rounds;
        for (; _roundsShown < rounds.Length; _roundsShown++)
            WriteLine(FormatRound(status.ExperimentId, rounds[_roundsShown]));
        for (; _stagesShown < stages.Length; _stagesShown++)
            WriteLine(FormatStage(status.ExperimentId, stages[_stagesShown]));

        // A lost worker and the resume that follows are news, in both modes.
        if (status.Phase.StartsWith("recovering", StringComparison.Ordinal) && !_lastPhase.StartsWith("recovering", StringComparison.Ordinal))
            WriteLine($"[{status.ExperimentId}] step {status.Step}: {status.Phase}");
        if (status.Resumes > _resumesShown)
        {
            _resumesShown = status.Resumes;
            WriteLine($"[{status.ExperimentId}] resumed at step {status.ResumedFromStep} (resume {status.Resumes})");
        }

        if (interactive)
        {
            _lastPhase = status.Phase;
            Draw(FormatLive(status));
            return;
        }
        var tenth = status.TotalSteps > 0 ? status.Step * 10 / status.TotalSteps : 0;
        if (status.Step > 0 && tenth > _lastTenth && status.Phase != "initializing")
        {
            _lastTenth = tenth;
            WriteLine(FormatLive(status));
        }
        else if (status.Phase != _lastPhase && status.Phase == "initializing")
        {
            WriteLine($"[{status.ExperimentId}] initializing learner and sampler…");
        }
        _lastPhase = status.Phase;
    }

    /// <summary>Ends the live line so that what follows starts on a fresh line.</summary>
    public void Finish()
    {
        if (interactive && _drawnWidth > 0)
        {
            output.WriteLine();
            _drawnWidth = 0;
        }
        output.Flush();
    }

    public static string FormatLive(ExperimentStatus s)
    {
        var percent = s.TotalSteps > 0 ? 100.0 * s.Step / s.TotalSteps : 0;
        var parts = new List<string>
        {
            $"[{s.ExperimentId}] step {s.Step}/{s.TotalSteps} ({percent.ToString("F0", CultureInfo.InvariantCulture)}%)",
        };
        if (s.LastLoss is { } loss) parts.Add($"loss {loss.ToString("F4", CultureInfo.InvariantCulture)}");
        if (s.LearningRate is { } lr) parts.Add($"lr {lr.ToString("0.00e+00", CultureInfo.InvariantCulture)}");
        if (s.Grpo is { } g)
        {
            parts.Insert(1, "grpo");
            if (g.RecentMeanReward is { } reward) parts.Add($"reward {reward.ToString("F3", CultureInfo.InvariantCulture)}");
            if (g.LastKl is { } kl) parts.Add($"kl {kl.ToString("F4", CultureInfo.InvariantCulture)}");
            if (g.StaleRollouts + g.DroppedRollouts > 0) parts.Add($"stale {g.StaleRollouts} dropped {g.DroppedRollouts}");
        }
        else if (s.TokensPerSecond is { } tps) parts.Add($"{FormatRate(tps)} tok/s");
        parts.Add($"elapsed {FormatTime(s.Elapsed)}");
        if (s.Eta is { } eta) parts.Add($"ETA {FormatTime(eta)}");
        if (s.Phase is not ("training" or "")) parts.Add($"({s.Phase})");
        return string.Join("  ", parts);
    }

    /// <summary>A finished stage: its steps, time and held-out figures (its eval/ metrics).</summary>
    public static string FormatStage(string experimentId, StageSummary stage)
    {
        var figures = stage.Metrics.Where(m => m.Key.StartsWith("eval/", StringComparison.Ordinal))
            .Select(m => $"{m.Key[5..]} {m.Value.ToString("G4", CultureInfo.InvariantCulture)}");
        return $"[{experimentId}] stage {stage.Name} done: {stage.Steps} steps in {stage.Seconds.ToString("F1", CultureInfo.InvariantCulture)} s" +
               string.Concat(figures.Select(f => "; " + f));
    }

    public static string FormatRound(string experimentId, RlaifRoundSummary r) =>
        $"[{experimentId}] round {r.Round}: {r.Pairs} pairs" + (r.Uncertain > 0 ? $" ({r.Uncertain} prompts too uncertain)" : "") +
        (r.JudgeAgreement is { } a ? $", judge agreement {a.ToString("F2", CultureInfo.InvariantCulture)}" : "") +
        $", accuracy {(100 * r.AccuracyAfter).ToString("F1", CultureInfo.InvariantCulture)}%";

    public static string FormatEval(string experimentId, EvalSummary e) =>
        $"[{experimentId}] eval at step {e.Step} (policy v{e.PolicyVersion}): accuracy " +
        $"{(100 * e.Accuracy).ToString("F1", CultureInfo.InvariantCulture)}% ({e.Correct}/{e.Examples}) " +
        $"in {e.Seconds.ToString("F1", CultureInfo.InvariantCulture)} s";

    void Draw(string line)
    {
        var padded = line.Length < _drawnWidth ? line.PadRight(_drawnWidth) : line;
        output.Write('\r' + padded);
        output.Flush();
        _drawnWidth = line.Length;
    }

    void WriteLine(string line)
    {
        if (interactive && _drawnWidth > 0)
        {
            output.Write('\r' + new string(' ', _drawnWidth) + '\r');
            _drawnWidth = 0;
        }
        output.WriteLine(line);
        output.Flush();
    }

    static string FormatRate(double perSecond) => perSecond >= 10_000
        ? (perSecond / 1000).ToString("F1", CultureInfo.InvariantCulture) + "k"
        : perSecond.ToString("F0", CultureInfo.InvariantCulture);

    static string FormatTime(TimeSpan t) => t.TotalHours >= 1
        ? $"{(int)t.TotalHours}:{t.Minutes:D2}:{t.Seconds:D2}"
        : $"{t.Minutes:D2}:{t.Seconds:D2}";
}
