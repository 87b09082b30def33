using System.Collections.Immutable;
using RlhfActors.Abstractions.Experiments;

namespace RlhfActors.Grains.Experiments;

/// <summary>Stage bookkeeping shared by every algorithm: each stage (sft, reward_model, grpo, ppo, dpo, rlaif) is
/// opened with its name and clock and closed with its figures, which become a <see cref="StageSummary"/>.</summary>
public sealed partial class ExperimentGrain
{
    /// <summary>Marks the start of a stage: its name in the status, its clock.</summary>
    void BeginStage(string stage, string phase)
    {
        Record.StageStartedAt = DateTimeOffset.UtcNow;
        Record.StageStartStep = Record.Status.Step;
        SetStatus(s => s with { Stage = stage, Phase = phase });
    }

    /// <summary>Closes the running stage with its figures, into the status and (at the end) the result.</summary>
    void EndStage(ImmutableSortedDictionary<string, double> metrics, int? steps = null)
    {
        var started = Record.StageStartedAt ?? DateTimeOffset.UtcNow;
        var summary = new StageSummary
        {
            Name = Record.Status.Stage,
            Steps = steps ?? Record.Status.Step - Record.StageStartStep,
            Seconds = (DateTimeOffset.UtcNow - started).TotalSeconds,
            Metrics = metrics,
        };
        Record.Stages.Add(summary);
        SetStatus(s => s with { Stages = [.. Record.Stages] });
    }
}
