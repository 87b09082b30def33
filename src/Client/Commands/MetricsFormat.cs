using System.Globalization;
using System.Text;
using RlhfActors.Training.Metrics;

namespace RlhfActors.Client.Commands;

/// <summary>How metrics lines read on a terminal: one line per logged step, and a sparkline of the main figure.</summary>
public static class MetricsFormat
{
    const string Bars = "▁▂▃▄▅▆▇█";

    /// <summary>"step 1200  sft  v3  loss 0.9839  learning_rate 0.00276  eval/accuracy 67.5%".</summary>
    public static string Line(MetricsLine line)
    {
        var text = new StringBuilder($"step {line.Step}  {line.Stage}  v{line.PolicyVersion}");
        foreach (var (name, value) in line.Values) text.Append($"  {name} {Value(name, value)}");
        return text.ToString();
    }

    /// <summary>Fractions (accuracies, agreement, clip fraction) as percentages; the rest with 4 significant digits.</summary>
    public static string Value(string name, double value) =>
        name.Contains("accuracy", StringComparison.Ordinal) || name.Contains("agreement", StringComparison.Ordinal)
            ? (100 * value).ToString("F1", CultureInfo.InvariantCulture) + "%"
            : value.ToString("G4", CultureInfo.InvariantCulture);

    /// <summary>The figure a person watches in the stage the history ends in: the reward of the online RL stages, the
    /// loss otherwise.</summary>
    public static string MainFigure(IReadOnlyList<MetricsLine> lines) =>
        lines.Count > 0 && lines[^1].Stage is "grpo" or "ppo" ? MetricNames.Reward : MetricNames.Loss;

    /// <summary>The last <paramref name="width"/> values of <paramref name="name"/> as bars scaled from their minimum
    /// to their maximum (all equal: the middle bar); empty when no line has it.</summary>
    public static string Sparkline(IReadOnlyList<MetricsLine> lines, string name, int width = 40)
    {
        var values = lines.Select(l => l[name]).OfType<double>().TakeLast(width).ToArray();
        if (values.Length == 0) return "";
        double min = values.Min(), max = values.Max();
        return string.Concat(values.Select(v => max > min ? Bars[(int)Math.Round((v - min) / (max - min) * (Bars.Length - 1))] : Bars[Bars.Length / 2]));
    }

    /// <summary>"loss ▇▆▅▄▃▂▁ 1.204 → 0.0056 (last 40 logged steps)".</summary>
    public static string? SparklineLine(IReadOnlyList<MetricsLine> lines, int width = 40)
    {
        var name = MainFigure(lines);
        var values = lines.Select(l => l[name]).OfType<double>().TakeLast(width).ToArray();
        if (values.Length == 0) return null;
        return $"{name} {Sparkline(lines, name, width)} {Value(name, values[0])} → {Value(name, values[^1])} (last {values.Length} logged steps)";
    }
}
