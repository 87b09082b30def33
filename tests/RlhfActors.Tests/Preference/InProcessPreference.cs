using RlhfActors.Abstractions.Config;
using RlhfActors.Grains.Specs;
using RlhfActors.Training.Data;
using RlhfActors.Training.Model;
using RlhfActors.Training.Preference;
using RlhfActors.Training.Sft;
using RlhfActors.Training.Weights;

namespace RlhfActors.Tests.Preference;

/// <summary>
/// A DPO-family config (algorithm dpo, any loss_type) run as plain Training calls, no actors: the SFT warm-up, a
/// frozen copy of its weights as the reference with the per-pair cache the reference grain keeps, then
/// <see cref="DpoLearner"/> on the stage's batches in the stage's order (KTO: single completions with their KL
/// completions). The twin of the grain pipeline that the equivalence tests compare weights with.
/// </summary>
internal static class InProcessPreference
{
    public static (IReadOnlyList<TensorBytes> Warm, IReadOnlyList<TensorBytes> Trained) Run(ExperimentConfig config)
    {
        var data = ExperimentData.Load(ExperimentSpecs.Data(config));
        using var sft = InProcessGrpo.WarmUp(config, data);
        var warm = sft.ExportWeights();
        var options = PreferenceSpecs.Dpo(config);
        using var reference = new DecoderModel(sft.Config);
        ModelFactory.LoadWeights(reference, warm, "reference");
        var cache = new ReferenceLogProbCache();
        (float, float)[]? ReferenceRows(IReadOnlyList<PreferencePair> rows)
        {
            if (!options.NeedsReference) return null;
            var missing = cache.Missing(rows);
            var computed = PreferenceLogProbs.Rows(reference, sft.Tokenizer, missing);
            for (int i = 0; i < missing.Count; i++) cache.Add(missing[i], computed[i]);
            return [.. rows.Select(r => cache.TryGet(r, out var lp) ? lp : throw new InvalidOperationException("not cached"))];
        }

        using var learner = new DpoLearner(sft.Model, reference: null, sft.Tokenizer, options);
        if (options.LossType == DpoLossType.Kto)
        {
            var examples = new EpochSampler<KtoExample>(PreferenceSpecs.KtoExamples(config, config.Dpo.Pairs, "dpo.pairs").Train, config.Seed);
            for (int step = 0; step < config.Dpo.Steps; step++)
            {
                var (rows, labels) = KtoBatch.Rows(examples.Next(config.Dpo.BatchSize));
                learner.Step(rows, ReferenceRows(rows), options.LearningRate, labels: labels);
            }
        }
        else
        {
            var pairs = new EpochSampler<PreferencePair>(PreferenceSpecs.Pairs(config, config.Dpo.Pairs, "dpo.pairs").Train, config.Seed);
            for (int step = 0; step < config.Dpo.Steps; step++)
            {
                var batch = pairs.Next(config.Dpo.BatchSize);
                learner.Step(batch, ReferenceRows(batch), options.LearningRate);
            }
        }
        return (warm, sft.ExportWeights());
    }
}
