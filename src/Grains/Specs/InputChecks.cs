using System.Globalization;
using RlhfActors.Abstractions.Config;
using RlhfActors.Training.Data;
using RlhfActors.Training.Model;
using RlhfActors.Training.Sft;
using RlhfActors.Training.Tokenization;

namespace RlhfActors.Grains.Specs;

/// <summary>
/// Reads what a run will read, before any training, so that a bad input stops it at once with the place named instead
/// of minutes in (after a whole SFT warm-up for a DPO pairs file): the dataset (every line of a JSONL file; a task's
/// generated examples), the watched tasks, the labelled pairs of a reward-model or DPO stage, the model's config and
/// tokenizer, and every example's length in tokens against the model's max_position_embeddings. (The judge's API key
/// variable is asked of the judge grain at Start, on the silo that will send it.) Run by <c>rlhf run</c> (exit 2) and again by <c>IExperimentGrain.Start</c> on the silo, whose machine is
/// the one that reads the files and the environment. Assumes <see cref="ConfigChecks"/> passed.
/// </summary>
public static class InputChecks
{
    /// <param name="onSilo">Also check that the model fits this machine's memory: only where it will be trained (a
    /// client in front of a GPU cluster may have less memory than the silos).</param>
    public static IReadOnlyList<ConfigError> Errors(ExperimentConfig config, bool onSilo = false)
    {
        var errors = new List<ConfigError>();
        T? Try<T>(string field, Func<T> read) where T : class
        {
            try { return read(); }
            catch (Exception e) when (e is InvalidDataException or ArgumentException or IOException or UnauthorizedAccessException or FormatException)
            {
                errors.Add(new ConfigError(field, e.Message.StartsWith(field, StringComparison.Ordinal) ? e.Message : $"{field}: {e.Message}"));
                return null;
            }
        }

        var dataField = config.Data.TrainFile is null ? "data.task" : "data.train_file";
        var data = Try(dataField, () => ExperimentData.Load(ExperimentSpecs.Data(config)));
        for (var i = 0; i < config.Eval.Watch.Length; i++)
        {
            var watch = config.Eval.Watch[i];
            Try($"eval.watch[{i}]", () => ExperimentData.Load(ExperimentSpecs.Watch(config, watch)));
        }
        if (config.TrainsRewardModel && config.RewardModel.Init is null)
            Try("reward_model.pairs", () => PreferenceSpecs.MarginedPairs(config, config.RewardModel.Pairs, "reward_model.pairs").Train);
        if (config.IsDpo && config.Dpo.LossType == DpoLossVariant.Kto) Try("dpo.pairs", () => PreferenceSpecs.KtoExamples(config, config.Dpo.Pairs, "dpo.pairs").Train);
        else if (config.IsDpo) Try("dpo.pairs", () => PreferenceSpecs.MarginedPairs(config, config.Dpo.Pairs, "dpo.pairs").Train);

        var model = Try("model", () => ExperimentSpecs.Model(config.Model));
        var tokenizer = Try(config.Model.Tokenizer is null && !config.Model.IsScratch ? "model.init" : "model.tokenizer",
            () => TokenizerFiles.Create(config.Model.ResolvedTokenizer));
        if (config.IsDistill && model?.Config is { } studentConfig && tokenizer is not null)
            Try("distill.teacher", () => { DistillSpecs.CheckVocabulary(config, tokenizer, studentConfig.VocabSize); return config; });
        if (data is not null && model?.Config is { } modelConfig && tokenizer is not null)
            errors.AddRange(LengthErrors(config, data, modelConfig, tokenizer));
        if (onSilo && model?.Config is { } sized)
        {
            // Full fine-tuning holds fp32 weights, gradients and two AdamW moments; adapters leave the base frozen.
            var bytes = config.Peft.Enabled ? 4 : ModelMemory.TrainingBytesPerParameter;
            Try(model.Path is null ? "model.config" : "model.init",
                () => { ModelMemory.ThrowIfTooLarge(sized, bytes, "to train", model.Path is null ? "model.config" : "model.init"); return sized; });
        }
        return errors;
    }

    /// <summary>The first example of each set that, as the model sees it ([bos] prompt completion [eos]), is longer
    /// than max_position_embeddings: positions past it have no rotary embedding, so training or evaluating it would
    /// fail mid-run.</summary>
    static IEnumerable<ConfigError> LengthErrors(ExperimentConfig config, LoadedData data, ModelConfig model, ITokenizer tokenizer)
    {
        var limit = model.MaxPositionEmbeddings;
        foreach (var (examples, set, field) in new[]
                 {
                     (data.Train, "training", config.Data.TrainFile is null ? "data.task_parameters" : "data.train_file"),
                     (data.Eval, "held-out", config.Data.EvalFile is null ? config.Data.TrainFile is null ? "data.task_parameters" : "data.train_file" : "data.eval_file"),
                 })
        {
            for (var i = 0; i < examples.Count; i++)
            {
                var length = EncodedExample.Encode(tokenizer, examples[i]).Length;
                if (length <= limit) continue;
                var prompt = examples[i].Prompt.Length > 40 ? examples[i].Prompt[..40] + "…" : examples[i].Prompt;
                yield return new ConfigError(field, string.Create(CultureInfo.InvariantCulture,
                    $"{field}: {set} example {i + 1} ('{prompt}') is {length} tokens with its BOS and EOS, longer than the model's max_position_embeddings ({limit})"));
                break;
            }
        }
    }
}
