namespace RlhfActors.Training.Metrics;

/// <summary>One chart: the figure it plots (a <see cref="MetricNames"/> name), its file name and its title.
/// <paramref name="IsFraction"/>: the figure lies in [0, 1] (an accuracy, an agreement), so its axis is [0, 1]
/// whatever the data: an accuracy stuck at 0 is not drawn on an axis from −1 to 1, and runs compare at a glance.</summary>
public sealed record ChartFigure(string Name, string FileName, string Title, bool IsFraction);

/// <summary>
/// Which charts a set of runs gets, in which order: every figure that at least one run has, one chart each (a
/// figure no run has gets no chart, so there are no empty charts). The figures people look at first come first
/// with a title in words; any other figure (watched tasks, pipeline counters, a figure added later) follows in name
/// order, titled with its name. The file name is the figure's name with '/' as '_': loss.png, eval_accuracy.png.
/// </summary>
public static class ChartFigures
{
    static readonly (string Name, string Title)[] Known =
    [
        (MetricNames.Loss, "Training loss"),
        (MetricNames.Reward, "Mean reward"),
        (MetricNames.Kl, "KL to the reference"),
        (MetricNames.EvalAccuracy, "Held-out accuracy"),
        (MetricNames.EvalPreferenceAccuracy, "Held-out preference accuracy"),
        (MetricNames.EvalMargin, "Held-out reward margin"),
        (MetricNames.JudgeAgreement, "Judge agreement with the verifier"),
        (MetricNames.RewardAccuracy, "Preference accuracy on the training pairs"),
        (MetricNames.RewardMargin, "Reward margin on the training pairs"),
        (MetricNames.RewardStd, "Reward standard deviation"),
        (MetricNames.Entropy, "Entropy"),
        (MetricNames.ValueLoss, "Value loss"),
        (MetricNames.ExplainedVariance, "Explained variance"),
        (MetricNames.ClipFraction, "Clip fraction"),
        (MetricNames.CompletionLength, "Completion length"),
        (MetricNames.LearningRate, "Learning rate"),
        (MetricNames.GradNorm, "Gradient norm"),
        (MetricNames.TokensPerSecond, "Training tokens per second"),
    ];

    /// <summary>The charts for <paramref name="runs"/>: known figures first, then the rest by name.</summary>
    public static IReadOnlyList<ChartFigure> For(IEnumerable<ChartRun> runs)
    {
        var present = new HashSet<string>(runs.SelectMany(r => r.Lines).SelectMany(l => l.Values.Keys), StringComparer.Ordinal);
        var known = Known.Where(k => present.Contains(k.Name)).Select(k => Chart(k.Name, k.Title));
        var rest = present.Except(Known.Select(k => k.Name)).Order(StringComparer.Ordinal).Select(name => Chart(name, name));
        return [.. known, .. rest];
    }

    public static string FileNameOf(string figure) =>
        string.Concat(figure.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' ? c : '_')) + ".png";

    static ChartFigure Chart(string name, string title) => new(name, FileNameOf(name), title, IsFraction(name));

    static bool IsFraction(string name) =>
        name.EndsWith("accuracy", StringComparison.Ordinal) || name is MetricNames.JudgeAgreement or MetricNames.ClipFraction;
}
