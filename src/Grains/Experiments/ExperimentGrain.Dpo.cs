using System.Collections.Immutable;
using Microsoft.Extensions.Logging;
using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Experiments;
using RlhfActors.Abstractions.Preference;
using RlhfActors.Abstractions.Rollouts;
using RlhfActors.Grains.Specs;
using RlhfActors.Training.Sft;

namespace RlhfActors.Grains.Experiments;

/// <summary>
/// The offline DPO-family stage (algorithm dpo): after the SFT warm-up, <c>dpo.steps</c> updates on labelled pairs
/// in shuffled epochs. Each step the controller takes the next batch, asks <c>ReferenceGrain</c> for the pairs'
/// reference log-probs (computed once per pair, then cached there; SimPO asks nothing) and sends both to the learner.
/// Held-out preference accuracy (the implicit reward β·(log π − log π_ref) ranks chosen above rejected) is measured
/// before the stage, at every evaluation and at the end, beside the generation accuracy.
/// </summary>
public sealed partial class ExperimentGrain
{
    EpochSampler<PreferencePairItem>? _pairs;
    ImmutableArray<PreferencePairItem> _heldOutPairs = [];
    DpoStepResult? _lastDpo;
    PreferenceEvalResult? _pairsBefore;

    bool DpoNeedsReference => Config.Dpo.LossType != DpoSection.Simpo;

    async Task StartDpoAsync()
    {
        var config = Config;
        BeginStage("dpo", "starting dpo");
        var start = await StartDpoLearnerAsync();
        var (train, eval) = PreferenceSpecs.Pairs(config, config.Dpo.Pairs, "dpo.pairs");
        _pairs = new EpochSampler<PreferencePairItem>([.. train.Select(p => p.ToItem())], config.Seed);
        _heldOutPairs = [.. eval.Select(p => p.ToItem())];
        _pairsBefore = await EvaluatePairsAsync();
        LogDpoStarted(ExperimentId, start, train.Count, eval.Count, _pairsBefore.Accuracy);
        _phase = Phase.DpoTrain;
    }

    /// <summary>Starts the learner's DPO stage and freezes its first version in the reference grain.</summary>
    async Task<long> StartDpoLearnerAsync()
    {
        var start = await Learner.StartDpo();
        Record.PublishedStep = start.Step;
        SetStatus(s => s with { PolicyVersion = start.Version });
        if (DpoNeedsReference) await Reference.Initialize(new ReferenceInit { Model = Record.SamplerInit!, Version = start.Version });
        return start.Version;
    }

    async Task DpoChunkAsync()
    {
        var config = Config;
        int done = Record.Status.Step - config.Sft.Steps;
        int n = Math.Min(_stepsPerCall, config.Dpo.Steps - done);
        n = Math.Min(n, StepsToBoundary(done, config.Eval.Every));
        n = Math.Min(n, StepsToBoundary(done, config.Checkpoint.Every));
        SetStatus(s => s with { Phase = "training" });
        for (int i = 0; i < n; i++) await DpoStepOnAsync([.. _pairs!.Next(config.Dpo.BatchSize)]);
        done = Record.Status.Step - config.Sft.Steps;
        if (done >= config.Dpo.Steps)
        {
            var after = await EvaluatePairsAsync();
            EndStage(DpoMetrics(after));
            _phase = Phase.Finish;
            return;
        }
        if (IsBoundary(done, config.Eval.Every))
        {
            await EvaluateAsync();
            await EvaluatePairsAsync();
        }
        if (IsBoundary(done, config.Checkpoint.Every)) await CheckpointAsync();
        SetStatus(s => s with { Phase = "training" });
    }

    /// <summary>One DPO-family update on <paramref name="batch"/> (offline pairs, or an RLAIF round's judged pairs).</summary>
    async Task<DpoStepResult> DpoStepOnAsync(ImmutableArray<PreferencePairItem> batch)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var reference = DpoNeedsReference ? await Reference.PairLogProbs(batch) : default;
        var result = await Learner.DpoStep(new DpoStepRequest { Pairs = batch, Reference = reference, LearningRate = Config.Dpo.LearningRate });
        Record.TrainSeconds += clock.Elapsed.TotalSeconds;
        _lastDpo = result;
        SetStatus(s => s with { Step = result.Step, LastLoss = result.Loss, LearningRate = Config.Dpo.LearningRate });
        return result;
    }

    /// <summary>Held-out preference accuracy of the policy's implicit reward, on the stage's held-out pairs.</summary>
    async Task<PreferenceEvalResult> EvaluatePairsAsync()
    {
        var reference = DpoNeedsReference ? await Reference.PairLogProbs(_heldOutPairs) : default;
        var eval = await Learner.EvaluatePreferences(new PreferenceEvalRequest { Pairs = _heldOutPairs, Reference = reference });
        LogPairsEvaluated(ExperimentId, Record.Status.Step, eval.Accuracy, eval.Correct, eval.Pairs, eval.MeanMargin);
        return eval;
    }

    ImmutableSortedDictionary<string, double> DpoMetrics(PreferenceEvalResult after)
    {
        var metrics = new Dictionary<string, double>
        {
            ["eval/preference_accuracy"] = after.Accuracy,
            ["eval/preference_accuracy_before"] = _pairsBefore?.Accuracy ?? double.NaN,
            ["eval/rewards/margins"] = after.MeanMargin,
            ["eval/pairs"] = after.Pairs,
        };
        if (_lastDpo is { } last)
        {
            metrics["loss"] = last.Loss;
            metrics["rewards/chosen"] = last.RewardsChosen;
            metrics["rewards/rejected"] = last.RewardsRejected;
            metrics["rewards/margins"] = last.Margin;
            metrics["rewards/accuracies"] = last.Accuracy;
        }
        return metrics.ToImmutableSortedDictionary(StringComparer.Ordinal);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Experiment {ExperimentId}: DPO from policy version {Version} on {Train} pairs ({Eval} held out; preference accuracy {Accuracy:P1} before)")]
    private partial void LogDpoStarted(string experimentId, long version, int train, int eval, double accuracy);

    [LoggerMessage(Level = LogLevel.Information, Message = "Experiment {ExperimentId}: step {Step}: held-out preference accuracy {Accuracy:P1} ({Correct}/{Pairs}), margin {Margin:F3}")]
    private partial void LogPairsEvaluated(string experimentId, int step, double accuracy, int correct, int pairs, double margin);
}
