using RlhfActors.Training.Metrics;

namespace RlhfActors.Tests.Metrics;

/// <summary>Metrics histories as a two-stage run (SFT, then GRPO) writes them, with made-up but plausible figures.</summary>
public static class SyntheticRuns
{
    /// <summary>Writes <c>&lt;parent&gt;/&lt;name&gt;/metrics.jsonl</c> and returns the run's folder. SFT logs loss for
    /// steps 1–40; GRPO logs loss, reward and KL for steps 41–80; both evaluate every 10 steps. No judge/agreement.
    /// <paramref name="offset"/> shifts the figures, so two runs' lines do not coincide.</summary>
    public static string Write(string parent, string name, double offset = 0)
    {
        var folder = Path.Combine(parent, name);
        var start = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var lines = new List<MetricsLine>();
        for (int step = 1; step <= 80; step++)
        {
            var stage = step <= 40 ? "sft" : "grpo";
            var values = new Dictionary<string, double>
            {
                [MetricNames.Loss] = 2.0 * Math.Exp(-step / 30.0) + 0.1 + offset + 0.05 * Math.Sin(step),
                [MetricNames.LearningRate] = 1e-4 * (1 + offset),
            };
            if (stage == "grpo")
            {
                values[MetricNames.Reward] = 0.2 + 0.6 * (step - 40) / 40.0 - offset;
                values[MetricNames.Kl] = 0.002 * (step - 40) + offset / 10;
            }
            if (step % 10 == 0) values[MetricNames.EvalAccuracy] = Math.Min(1, 0.1 + step / 100.0 - offset);
            lines.Add(new MetricsLine(step, stage, start.AddSeconds(step), step, step, values));
        }
        MetricsFile.Append(MetricsFile.PathIn(folder), lines);
        return folder;
    }
}
