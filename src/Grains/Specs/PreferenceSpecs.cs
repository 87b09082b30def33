using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Preference;
using RlhfActors.Training.Data;
using RlhfActors.Training.Preference;
using RlhfActors.Training.RewardModeling;
using RlhfActors.Training.Tokenization;

namespace RlhfActors.Grains.Specs;

/// <summary>The config's preference sections → the Training layer's pairs and options. Errors name the YAML field.</summary>
public static class PreferenceSpecs
{
    /// <summary>Labelled train and held-out pairs of a <c>pairs:</c> section: read from JSONL files, or made from a
    /// built-in task's exact answers (the experiment's task and parameters unless the section names others, generated
    /// with its own seed so the pairs' prompts are not the policy's).</summary>
    public static (IReadOnlyList<PreferencePair> Train, IReadOnlyList<PreferencePair> Eval) Pairs(ExperimentConfig config, PreferenceDataSection pairs, string field)
    {
        var (train, eval) = MarginedPairs(config, pairs, field);
        return ([.. train.Select(m => m.Pair)], eval);
    }

    /// <summary>As <see cref="Pairs"/>, with the train pairs' required score gaps: a JSONL line's optional
    /// <c>"margin"</c> (Llama 2's margin loss), 0 for built-in pairs. Only the reward model's Bradley–Terry loss
    /// uses them; DPO, like TRL's, has no per-pair margin.</summary>
    public static (IReadOnlyList<MarginedPreference> Train, IReadOnlyList<PreferencePair> Eval) MarginedPairs(ExperimentConfig config,
        PreferenceDataSection pairs, string field)
    {
        if (pairs.TrainFile is not null)
        {
            bool charTokenizer = TokenizerFiles.IsCharacter(config.Model.ResolvedTokenizer);
            var template = TokenizerFiles.ChatTemplateOf(config.Model.ResolvedTokenizer);
            var evalFile = pairs.EvalFile ?? throw new ArgumentException($"{field}.eval_file is required with {field}.train_file");
            var limits = ExperimentSpecs.Limits(config);
            return (PreferenceJsonl.ReadPreferencePairs(pairs.TrainFile, limits, charTokenizer, template),
                PreferenceJsonl.ReadPreferencePairs(evalFile, limits, charTokenizer, template).Select(m => m.Pair).ToArray());
        }
        var task = pairs.Task ?? config.Data.Task
                   ?? throw new ArgumentException($"{field}: name a task or a train_file (the experiment's data has no task to make pairs from)");
        var parameters = pairs.TaskParameters.Count > 0 || task != config.Data.Task ? pairs.TaskParameters : config.Data.TaskParameters;
        int seed = config.Seed + pairs.SeedOffset;
        var data = ExperimentData.Load(new DataSpec
        {
            Task = task,
            TaskParameters = parameters,
            TrainExamples = pairs.TrainExamples ?? config.Data.TrainExamples,
            EvalExamples = pairs.EvalExamples ?? config.Data.EvalExamples,
            Seed = seed,
        });
        return ([.. ArithmeticPreferences.Build(data.Train, seed).Select(p => new MarginedPreference(p, 0))], ArithmeticPreferences.Build(data.Eval, seed + 1));
    }

    /// <summary>KTO's training examples of a <c>pairs:</c> section and its held-out pairs: a train_file in TRL's
    /// unpaired form (or pairs, unpaired as TRL unpairs them), or the built-in task's pairs unpaired. Held-out data
    /// stays paired: KTO's implicit reward β·(log π − log π_ref) is measured, as DPO's, by whether it ranks the chosen
    /// completion first.</summary>
    public static (IReadOnlyList<KtoExample> Train, IReadOnlyList<PreferencePair> Eval) KtoExamples(ExperimentConfig config,
        PreferenceDataSection pairs, string field)
    {
        if (pairs.TrainFile is null)
        {
            var (train, eval) = Pairs(config, pairs, field);
            return (KtoBatch.Unpair(train), eval);
        }
        var evalFile = pairs.EvalFile ?? throw new ArgumentException($"{field}.eval_file is required with {field}.train_file");
        var (limits, charTokenizer, template) = (ExperimentSpecs.Limits(config), TokenizerFiles.IsCharacter(config.Model.ResolvedTokenizer),
            TokenizerFiles.ChatTemplateOf(config.Model.ResolvedTokenizer));
        return (KtoJsonl.ReadExamples(pairs.TrainFile, limits, charTokenizer, template),
            PreferenceJsonl.ReadPreferencePairs(evalFile, limits, charTokenizer, template).Select(m => m.Pair).ToArray());
    }

    public static DpoOptions Dpo(ExperimentConfig config) => new()
    {
        Beta = config.Dpo.Beta,
        LossType = config.Dpo.LossType switch
        {
            DpoLossVariant.Sigmoid => DpoLossType.Sigmoid,
            DpoLossVariant.Ipo => DpoLossType.Ipo,
            DpoLossVariant.Robust => DpoLossType.Robust,
            DpoLossVariant.Simpo => DpoLossType.Simpo,
            DpoLossVariant.Orpo => DpoLossType.Orpo,
            DpoLossVariant.Kto => DpoLossType.Kto,
            var other => throw ConfigNames.Undefined("dpo.loss_type", other),
        },
        LabelSmoothing = config.Dpo.LabelSmoothing,
        SimpoGamma = config.Dpo.SimpoGamma,
        RpoAlpha = config.Dpo.RpoAlpha,
        DesirableWeight = config.Dpo.DesirableWeight,
        UndesirableWeight = config.Dpo.UndesirableWeight,
        LearningRate = config.Dpo.LearningRate,
        BatchSize = config.Dpo.BatchSize,
        MaxGradNorm = config.Dpo.MaxGradNorm,
        MaxNonfiniteSteps = config.MaxNonfiniteSteps,
        WeightDecay = config.Dpo.WeightDecay,
    };

    public static PreferencePair ToPair(this PreferencePairItem item) => new(item.Prompt, item.Chosen, item.Rejected);

    public static PreferencePairItem ToItem(this PreferencePair pair) => new(pair.Prompt, pair.Chosen, pair.Rejected);

    public static PreferenceEvalResult ToResult(this PreferenceEval eval) => new()
    {
        Pairs = eval.Pairs,
        Correct = (int)Math.Round(eval.Accuracy * eval.Pairs),
        Accuracy = eval.Accuracy,
        MeanMargin = eval.Margin,
    };
}
