using System.Globalization;
using System.Text;
using System.Text.Json;
using RlhfActors.Abstractions.Experiments;
using RlhfActors.Training.Metrics;

namespace RlhfActors.Client.Commands;

/// <summary>One status snapshot as the control commands print it: <c>key: value</c> lines for people, one JSON
/// object for scripts.</summary>
public static class StatusFormat
{
    /// <summary>"running", "paused", …: the state as the commands print it.</summary>
    public static string StateName(ExperimentState state) => state.ToString().ToLowerInvariant();

    public static void WriteText(TextWriter output, ExperimentStatus s)
    {
        string F(double v, string format) => v.ToString(format, CultureInfo.InvariantCulture);
        output.WriteLine($"experiment: {s.ExperimentId}");
        output.WriteLine($"state: {StateName(s.State)}");
        if (s.Phase.Length > 0) output.WriteLine($"phase: {s.Phase}");
        output.WriteLine($"step: {s.Step}/{s.TotalSteps}");
        if (s.LastLoss is { } loss) output.WriteLine($"loss: {F(loss, "F4")}");
        if (Accuracy(s) is { } accuracy)
            output.WriteLine($"accuracy: {F(100 * accuracy.Value, "F1")}% (held-out, step {accuracy.Step})");
        if (s.CheckpointPath is { } checkpoint) output.WriteLine($"checkpoint: {checkpoint}");
        if (s.Resumes > 0) output.WriteLine($"resumes: {s.Resumes} (the latest from step {s.ResumedFromStep})");
        if (s.TraceCapReached) output.WriteLine("rollout traces: trace_max_mb reached, later batches are not traced");
        if (s.Error is { } error) output.WriteLine($"error: {error}");
    }

    /// <summary>The latest metrics line and a sparkline of the main figure over the last lines.</summary>
    public static void WriteMetrics(TextWriter output, IReadOnlyList<MetricsLine> metrics)
    {
        if (metrics is not [.., var latest]) return;
        output.WriteLine($"metrics: {MetricsFormat.Line(latest)}");
        if (MetricsFormat.SparklineLine(metrics) is { } sparkline) output.WriteLine($"trend: {sparkline}");
    }

    /// <param name="metrics">The run's latest metrics lines (<c>rlhf status</c>): the last one is written as
    /// "metrics"; null leaves the key out.</param>
    public static string Json(ExperimentStatus s, IReadOnlyList<MetricsLine>? metrics = null)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("experiment", s.ExperimentId);
            w.WriteString("state", StateName(s.State));
            w.WriteString("phase", s.Phase);
            w.WriteNumber("step", s.Step);
            w.WriteNumber("total_steps", s.TotalSteps);
            NumberOrNull(w, "loss", s.LastLoss);
            var accuracy = Accuracy(s);
            NumberOrNull(w, "accuracy", accuracy?.Value);
            if (accuracy is { } a) w.WriteNumber("accuracy_step", a.Step);
            else w.WriteNull("accuracy_step");
            w.WriteString("checkpoint", s.CheckpointPath);
            w.WriteString("error", s.Error);
            w.WriteNumber("resumes", s.Resumes);
            w.WriteBoolean("trace_cap_reached", s.TraceCapReached);
            if (s.ResumedFromStep is { } from) w.WriteNumber("resumed_from_step", from);
            else w.WriteNull("resumed_from_step");
            w.WriteString("stage", s.Stage);
            if (s.Grpo is { } grpo) WriteGrpo(w, grpo);
            if (metrics is [.., var latest])
            {
                w.WritePropertyName("metrics");
                w.WriteRawValue(latest.ToJson());
            }
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>What a GRPO run reports beside accuracy: reward, KL, clipping, staleness accounting, where time went.</summary>
    internal static void WriteGrpo(Utf8JsonWriter w, GrpoStats g)
    {
        w.WriteStartObject("grpo");
        w.WriteNumber("steps", g.Steps);
        NumberOrNull(w, "mean_reward", g.RecentMeanReward);
        NumberOrNull(w, "last_mean_reward", g.LastMeanReward);
        NumberOrNull(w, "kl", g.LastKl);
        NumberOrNull(w, "clip_fraction", g.LastClipFraction);
        w.WriteNumber("stale_rollouts", g.StaleRollouts);
        w.WriteNumber("dropped_rollouts", g.DroppedRollouts);
        w.WriteNumber("corrected_rollouts", g.CorrectedRollouts);
        w.WriteNumber("max_trained_staleness", g.MaxTrainedStaleness);
        w.WriteNumber("filtered_groups", g.FilteredGroups);
        w.WriteNumber("step_s", Math.Round(g.StepSeconds, 3));
        w.WriteNumber("generation_s", Math.Round(g.GenerationSeconds, 3));
        w.WriteNumber("update_s", Math.Round(g.UpdateSeconds, 3));
        // Bytes the newest version moved to the samplers: the whole policy, or under LoRA the adapter alone.
        w.WriteNumber("last_sync_bytes", g.LastSyncBytes);
        // The prompts of every step, chained: equal in two runs that trained on the same prompts in the same order.
        w.WriteString("prompts_sha256", g.PromptsSha256);
        w.WriteEndObject();
    }

    /// <summary>The latest held-out accuracy and the step it was measured at, if any evaluation ran.</summary>
    static (double Value, int Step)? Accuracy(ExperimentStatus s) =>
        s.LatestEval is { } eval ? (eval.Accuracy, eval.Step) : null;

    static void NumberOrNull(Utf8JsonWriter w, string name, double? value)
    {
        if (value is { } v && double.IsFinite(v)) w.WriteNumber(name, v);
        else w.WriteNull(name);
    }
}
