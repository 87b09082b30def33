using System.Collections.Immutable;
using RlhfActors.Training.Metrics;
using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Preference;
using RlhfActors.Grains.Specs;
using RlhfActors.Training.Data;
using RlhfActors.Training.Preference;
using RlhfActors.Training.Sft;

namespace RlhfActors.Grains.Experiments.Stages;

/// <summary>
/// The offline DPO-family stage (algorithm dpo): after the SFT warm-up, <c>dpo.steps</c> updates on labelled pairs
/// in shuffled epochs. Each step takes the next batch, asks <c>ReferenceGrain</c> for the pairs' reference log-probs
/// (computed once per pair, then cached there; SimPO asks nothing) and sends both to the learner. Held-out preference
/// accuracy (the implicit reward β·(log π − log π_ref) ranks chosen above rejected) is measured before the stage, at
/// every evaluation and at the end, beside the generation accuracy. Resume: the learner's checkpoint holds the policy
/// and the DPO optimizer; the stage's state is the pair order's position, the figures from before the stage and the
/// latest update, and the reference's frozen version with the checkpoint holding its weights. KTO (loss_type kto)
/// runs the same stage on single labelled completions instead of pairs (<see cref="KtoBatch"/>); its held-out data
/// stays paired.
/// </summary>
public sealed class DpoStage(RunContext run) : ExperimentStage(run)
{
    readonly DpoUpdates _updates = new(run);
    TrainingRows? _pairs;
    ImmutableArray<PreferencePairItem> _heldOut = [];
    PreferenceEvalResult? _before;

    /// <summary>What <see cref="SaveState"/> writes.</summary>
    sealed record State(int Epoch, int Cursor, PreferenceEvalResult? Before, DpoStepResult? Last, long ReferenceVersion, string ReferenceCheckpoint);

    public override string Name => "dpo";

    public override string? CannotResume(ExperimentConfig config) => null;

    public override IEnumerable<string> PinnedCheckpoints => _updates.PinnedCheckpoints;

    public override string SaveState() => ControllerCursor.Serialize(new State(_pairs!.Epoch, _pairs.Cursor, _before, _updates.Last,
        _updates.Reference.Version, _updates.Reference.Checkpoint));

    public override async Task RestoreAsync(string json)
    {
        var state = ControllerCursor.Deserialize<State>(json, Name);
        await _updates.RestoreAsync((state.ReferenceVersion, state.ReferenceCheckpoint), state.Last);
        LoadPairs();
        _pairs!.Restore(state.Epoch, state.Cursor);
        _before = state.Before;
    }

    /// <summary>The stage's labelled data: the training pairs (KTO: single completions) in shuffled epochs, the
    /// held-out pairs.</summary>
    (int Train, int Eval) LoadPairs()
    {
        var config = Run.Config;
        IReadOnlyList<PreferencePair> eval;
        if (config.Dpo.LossType == DpoLossVariant.Kto)
        {
            (var examples, eval) = PreferenceSpecs.KtoExamples(config, config.Dpo.Pairs, "dpo.pairs");
            _pairs = new TrainingRows<KtoExample>(new EpochSampler<KtoExample>(examples, config.Seed), _updates.StepAsync);
        }
        else
        {
            (var train, eval) = PreferenceSpecs.Pairs(config, config.Dpo.Pairs, "dpo.pairs");
            _pairs = new TrainingRows<PreferencePairItem>(new EpochSampler<PreferencePairItem>([.. train.Select(p => p.ToItem())], config.Seed),
                batch => _updates.StepAsync([.. batch]));
        }
        _heldOut = [.. eval.Select(p => p.ToItem())];
        return (_pairs.Count, eval.Count);
    }

    /// <summary>The training data in shuffled epochs, whatever its rows are, and the update a batch of them makes.</summary>
    abstract class TrainingRows
    {
        public abstract int Count { get; }
        public abstract int Epoch { get; }
        public abstract int Cursor { get; }
        public abstract void Restore(int epoch, int cursor);
        public abstract Task StepAsync(int batchSize);
    }

    sealed class TrainingRows<T>(EpochSampler<T> sampler, Func<T[], Task<DpoStepResult>> step) : TrainingRows
    {
        public override int Count => sampler.Count;
        public override int Epoch => sampler.Epoch;
        public override int Cursor => sampler.Cursor;
        public override void Restore(int epoch, int cursor) => sampler.Restore(epoch, cursor);
        public override Task StepAsync(int batchSize) => step(sampler.Next(batchSize));
    }

    public override async Task StartAsync()
    {
        var config = Run.Config;
        Run.BeginStage(Name, "starting dpo");
        var start = await _updates.StartAsync();
        var (train, eval) = LoadPairs();
        _before = await EvaluatePairsAsync();
        Run.Logger.DpoStarted(Run.ExperimentId, start, train, eval, _before.Accuracy);
    }

    public override async Task<bool> StepAsync()
    {
        var config = Run.Config;
        int done = Run.Record.Status.Step - config.Sft.Steps;
        Run.SetStatus(s => s with { Phase = "training" });
        for (int i = Run.ChunkSize(done, config.Dpo.Steps); i > 0; i--) await _pairs!.StepAsync(config.Dpo.BatchSize);
        done = Run.Record.Status.Step - config.Sft.Steps;
        if (done < config.Dpo.Steps)
        {
            await Run.AtBoundaryAsync(done, alsoEvaluate: EvaluatePairsAsync);
            return false;
        }
        Run.EndStage(Metrics(await EvaluatePairsAsync()));
        return true;
    }

    /// <summary>Held-out preference accuracy of the policy's implicit reward, on the stage's held-out pairs.</summary>
    async Task<PreferenceEvalResult> EvaluatePairsAsync()
    {
        var reference = _updates.NeedsReference ? await Run.Reference.PairLogProbs(_heldOut) : default;
        var eval = await Run.Learner.EvaluatePreferences(new PreferenceEvalRequest { Pairs = _heldOut, Reference = reference });
        Run.Metrics.At(Run.Record.Status.Step, new Dictionary<string, double>
        {
            [MetricNames.EvalPreferenceAccuracy] = eval.Accuracy,
            [MetricNames.EvalMargin] = eval.MeanMargin,
        });
        Run.Logger.PairsEvaluated(Run.ExperimentId, Run.Record.Status.Step, eval.Accuracy, eval.Correct, eval.Pairs, eval.MeanMargin);
        return eval;
    }

    ImmutableSortedDictionary<string, double> Metrics(PreferenceEvalResult after)
    {
        var metrics = new Dictionary<string, double>
        {
            ["eval/preference_accuracy"] = after.Accuracy,
            ["eval/preference_accuracy_before"] = _before?.Accuracy ?? double.NaN,
            ["eval/rewards/margins"] = after.MeanMargin,
            ["eval/pairs"] = after.Pairs,
        };
        _updates.AddLastFigures(metrics);
        // KTO has no pair to be accurate about on its batches; a batch of one label has no margin.
        foreach (var name in metrics.Where(m => double.IsNaN(m.Value)).Select(m => m.Key).ToArray()) metrics.Remove(name);
        return metrics.ToImmutableSortedDictionary(StringComparer.Ordinal);
    }
}
