using System.Diagnostics;
using System.Collections.Immutable;
using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Preference;
using RlhfActors.Abstractions.Rollouts;
using RlhfActors.Grains.Specs;
using RlhfActors.Training.Data;
using RlhfActors.Training.Metrics;
using RlhfActors.Training.Preference;

namespace RlhfActors.Grains.Experiments.Stages;

/// <summary>The DPO-family updates the DPO stage and the RLAIF rounds share: the learner's DPO mode with its
/// reference frozen in <c>ReferenceGrain</c> (SimPO and ORPO need none), and one update on a batch of pairs, or for
/// KTO of single completions.</summary>
public sealed class DpoUpdates(RunContext run)
{
    public bool NeedsReference => run.Config.Dpo.LossType is not (DpoLossVariant.Simpo or DpoLossVariant.Orpo);

    bool IsKto => run.Config.Dpo.LossType == DpoLossVariant.Kto;

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

    /// <summary>The latest update's TRL figures (loss, rewards/*, and the loss's own logged figures) into a stage's
    /// summary; none before the first.</summary>
    public void AddLastFigures(IDictionary<string, double> metrics)
    {
        if (Last is not { } last) return;
        metrics["loss"] = last.Loss;
        metrics["rewards/chosen"] = last.RewardsChosen;
        metrics["rewards/rejected"] = last.RewardsRejected;
        metrics["rewards/margins"] = last.Margin;
        metrics["rewards/accuracies"] = last.Accuracy;
        foreach (var (name, value) in last.Logged) metrics[name] = value;
    }

    /// <summary>One DPO-family update on <paramref name="batch"/> (offline pairs, or an RLAIF round's judged pairs);
    /// KTO trains on the pairs unpaired, as TRL's KTOTrainer does with a paired dataset.</summary>
    public Task<DpoStepResult> StepAsync(ImmutableArray<PreferencePairItem> batch) => IsKto
        ? StepAsync(KtoBatch.Unpair([.. batch.Select(p => p.ToPair())]))
        : SendAsync(batch, labels: default);

    /// <summary>One KTO update on single labelled completions: each row is sent with its KL completion
    /// (<see cref="KtoBatch.Rows"/>), and the reference grain scores and caches the two like a pair.</summary>
    public Task<DpoStepResult> StepAsync(IReadOnlyList<KtoExample> batch)
    {
        if (!IsKto) throw new InvalidOperationException($"single completions are KTO's data, and dpo.loss_type is {run.Config.Dpo.LossType.Yaml()}");
        var (rows, labels) = KtoBatch.Rows(batch);
        return SendAsync([.. rows.Select(r => r.ToItem())], [.. labels]);
    }

    async Task<DpoStepResult> SendAsync(ImmutableArray<PreferencePairItem> batch, ImmutableArray<bool> labels)
    {
        var clock = Stopwatch.StartNew();
        var reference = NeedsReference ? await run.Reference.PairLogProbs(batch) : default;
        var result = await run.Learner.DpoStep(new DpoStepRequest
        {
            Pairs = batch, Reference = reference, LearningRate = run.Config.Dpo.LearningRate, Labels = labels,
        });
        run.Record.TrainSeconds += clock.Elapsed.TotalSeconds;
        Last = result;
        var metrics = new Dictionary<string, double>
        {
            [MetricNames.Loss] = result.Loss,
            [MetricNames.LearningRate] = run.Config.Dpo.LearningRate,
            [MetricNames.GradNorm] = result.GradNorm,
            [MetricNames.RewardMargin] = result.Margin,
            [MetricNames.RewardAccuracy] = result.Accuracy,
            [MetricNames.TokensPerSecond] = result.Seconds > 0 ? result.Tokens / result.Seconds : double.NaN,
        };
        foreach (var (name, value) in result.Logged) metrics[name] = value;
        run.Metrics.Update(result.Step, metrics);
        run.SetStatus(s => s with { Step = result.Step, LastLoss = result.Loss, LearningRate = run.Config.Dpo.LearningRate });
        return result;
    }
}
