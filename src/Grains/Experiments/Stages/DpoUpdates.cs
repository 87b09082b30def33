using System.Diagnostics;
using System.Collections.Immutable;
using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Preference;
using RlhfActors.Abstractions.Rollouts;
using RlhfActors.Training.Metrics;

namespace RlhfActors.Grains.Experiments.Stages;

/// <summary>The DPO-family updates the DPO stage and the RLAIF rounds share: the learner's DPO mode with its
/// reference frozen in <c>ReferenceGrain</c> (SimPO needs none), and one update on a batch of pairs.</summary>
public sealed class DpoUpdates(RunContext run)
{
    public bool NeedsReference => run.Config.Dpo.LossType != DpoLossVariant.Simpo;

    /// <summary>The latest update's figures (null before the first).</summary>
    public DpoStepResult? Last { get; private set; }

    /// <summary>The reference's frozen version, and the stage-boundary checkpoint that holds the same weights.</summary>
    public (long Version, string Checkpoint) Reference { get; private set; } = (-1, "");

    /// <summary>The checkpoint the reference grain reloads from while the stage runs (none for SimPO).</summary>
    public IEnumerable<string> PinnedCheckpoints => NeedsReference && Reference.Checkpoint.Length > 0 ? [Reference.Checkpoint] : [];

    /// <summary>Starts the learner's DPO stage and freezes its first version in the reference grain.</summary>
    public async Task<long> StartAsync()
    {
        var start = await run.Learner.StartDpo();
        run.Record.PublishedStep = start.Step;
        run.SetStatus(s => s with { PolicyVersion = start.Version });
        // The stage-boundary checkpoint just written holds the policy the stage starts from.
        Reference = (start.Version, run.Record.Status.CheckpointPath ?? "");
        await InitializeReferenceAsync();
        return start.Version;
    }

    /// <summary>After the learner resumed in its DPO stage: the reference set up again (idempotent: rebuilt only if
    /// it was lost, from the checkpoint when the registry lost the version too) and the latest figures.</summary>
    public async Task RestoreAsync((long Version, string Checkpoint) reference, DpoStepResult? last)
    {
        await run.PublishAsync();
        (Reference, Last) = (reference, last);
        await InitializeReferenceAsync();
    }

    Task InitializeReferenceAsync() => NeedsReference
        ? run.Reference.Initialize(new ReferenceInit { Model = run.Record.SamplerInit!, Version = Reference.Version, Checkpoint = Reference.Checkpoint })
        : Task.CompletedTask;

    /// <summary>The latest update's TRL figures (loss, rewards/*) into a stage's summary; none before the first.</summary>
    public void AddLastFigures(IDictionary<string, double> metrics)
    {
        if (Last is not { } last) return;
        metrics["loss"] = last.Loss;
        metrics["rewards/chosen"] = last.RewardsChosen;
        metrics["rewards/rejected"] = last.RewardsRejected;
        metrics["rewards/margins"] = last.Margin;
        metrics["rewards/accuracies"] = last.Accuracy;
    }

    /// <summary>One DPO-family update on <paramref name="batch"/> (offline pairs, or an RLAIF round's judged pairs).</summary>
    public async Task<DpoStepResult> StepAsync(ImmutableArray<PreferencePairItem> batch)
    {
        var clock = Stopwatch.StartNew();
        var reference = NeedsReference ? await run.Reference.PairLogProbs(batch) : default;
        var result = await run.Learner.DpoStep(new DpoStepRequest { Pairs = batch, Reference = reference, LearningRate = run.Config.Dpo.LearningRate });
        run.Record.TrainSeconds += clock.Elapsed.TotalSeconds;
        Last = result;
        run.Metrics.Update(result.Step, new Dictionary<string, double>
        {
            [MetricNames.Loss] = result.Loss,
            [MetricNames.LearningRate] = run.Config.Dpo.LearningRate,
            [MetricNames.GradNorm] = result.GradNorm,
            [MetricNames.RewardMargin] = result.Margin,
            [MetricNames.RewardAccuracy] = result.Accuracy,
            [MetricNames.TokensPerSecond] = result.Seconds > 0 ? result.Tokens / result.Seconds : double.NaN,
        });
        run.SetStatus(s => s with { Step = result.Step, LastLoss = result.Loss, LearningRate = run.Config.Dpo.LearningRate });
        return result;
    }
}
