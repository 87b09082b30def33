using System.Globalization;
using System.Text.RegularExpressions;

namespace RlhfActors.Abstractions.Config;

/// <summary>
/// Checks an <see cref="ExperimentConfig"/>'s field rules, independent of where it came from. The Grains' ConfigChecks
/// runs it first, then the Training layer's rules; the YAML loader and <c>IExperimentGrain.Start</c> both run that.
/// File-system checks (does model.init exist?) are not here: they belong to the machine that reads the files.
/// </summary>
public static partial class ExperimentConfigValidator
{
    /// <summary>Most examples a built-in task may generate for training. Every process that reads the data (the
    /// learner, each sampler) holds all of them in memory, at roughly 100-200 bytes an example for the built-in tasks'
    /// short prompts: 10 million is 1-2 GB per process, a thousand times the default of 10,000.</summary>
    public const int MaxTrainExamples = 10_000_000;
    /// <summary>Most held-out examples, five thousand times the default of 200: they are drawn as distinct prompts
    /// (kept in a set while drawing), and every evaluation generates a completion for each of them.</summary>
    public const int MaxEvalExamples = 1_000_000;

    public static IReadOnlyList<ConfigError> Validate(ExperimentConfig config)
    {
        var errors = new List<ConfigError>();
        void Check(bool ok, string path, string rule, object? got)
        {
            if (!ok) errors.Add(new ConfigError(path, $"{path} {rule} (got {Show(got)})"));
        }

        Check(config.Name.Length > 0 && NamePattern().IsMatch(config.Name), "name",
            "must be 1-100 letters, digits, '.', '_' or '-'", config.Name);
        // Enums: a config built in code may cast any number into one.
        Check(Enum.IsDefined(config.Algorithm), "algorithm", ConfigNames.OneOf<Algorithm>(), config.Algorithm);

        var model = config.Model;
        Check(model.Init.Length > 0, "model.init", $"must be '{ModelSection.Scratch}' or a Hugging Face model folder", model.Init);
        Check(Enum.IsDefined(model.DType), "model.dtype", ConfigNames.OneOf<ModelDType>(), model.DType);
        Check(model.Tokenizer is null || model.Tokenizer.Length > 0, "model.tokenizer", "must be 'char' or a path", model.Tokenizer);
        if (model.IsScratch)
            Check(!string.IsNullOrWhiteSpace(model.ConfigJson), "model.config", "is required when model.init is scratch", null);
        else
            Check(model.ConfigJson is null, "model.config", "is only read when model.init is scratch; the folder's config.json is used", "a mapping");

        var data = config.Data;
        if (data.Task is null == data.TrainFile is null)
            errors.Add(new ConfigError("data", "data must set exactly one of 'task' and 'train_file'"));
        Check(data.Task is null || data.Task.Length > 0, "data.task", "must be a task name", data.Task);
        Check(data.TrainFile is null || data.TrainFile.Length > 0, "data.train_file", "must be a path", data.TrainFile);
        Check(data.EvalFile is null || data.TrainFile is not null, "data.eval_file", "needs data.train_file", data.EvalFile);
        Check(data.TaskParameters.Count == 0 || data.Task is not null, "data.task_parameters", "needs data.task", "a mapping");
        CheckCount(data.TrainExamples, "data.train_examples", MaxTrainExamples, Check);
        CheckCount(data.EvalExamples, "data.eval_examples", MaxEvalExamples, Check);
        Check(data.TeacherCarryDrop is >= 0 and <= 1, "data.teacher_carry_drop", "must be between 0 and 1", data.TeacherCarryDrop);
        Check(data.TeacherCarryDrop == 0 || data.Task == "addition", "data.teacher_carry_drop", "needs data.task: addition", data.Task);

        var sft = config.Sft;
        if (config.HasWarmUp) Check(sft.Steps >= 0, "sft.steps", $"must be >= 0 (the SFT warm-up before {config.Algorithm}; 0 = none)", sft.Steps);
        else Check(sft.Steps > 0, "sft.steps", "must be > 0", sft.Steps);
        Check(sft.BatchSize > 0, "sft.batch_size", "must be > 0", sft.BatchSize);
        Check(sft.LearningRate > 0 && double.IsFinite(sft.LearningRate), "sft.learning_rate", "must be > 0", sft.LearningRate);
        Check(sft.WarmupSteps >= 0 && (sft.WarmupSteps <= sft.Steps || config.HasWarmUp && sft.Steps == 0), "sft.warmup_steps", "must be between 0 and sft.steps", sft.WarmupSteps);
        Check(sft.MinLearningRateRatio is >= 0 and <= 1, "sft.min_learning_rate_ratio", "must be between 0 and 1", sft.MinLearningRateRatio);
        Check(sft.WeightDecay >= 0 && double.IsFinite(sft.WeightDecay), "sft.weight_decay", "must be >= 0", sft.WeightDecay);
        Check(sft.AdamBeta1 is >= 0 and < 1, "sft.adam_beta1", "must be in [0, 1)", sft.AdamBeta1);
        Check(sft.AdamBeta2 is >= 0 and < 1, "sft.adam_beta2", "must be in [0, 1)", sft.AdamBeta2);
        Check(sft.MaxGradNorm > 0 && double.IsFinite(sft.MaxGradNorm), "sft.max_grad_norm", "must be > 0", sft.MaxGradNorm);

        if (config.IsGrpo) ValidateGrpo(config.Grpo, Check);
        if (config.TrainsRewardModel) ValidateRewardModel(config.RewardModel, Check);
        if (config.IsPpo) ValidatePpo(config.Ppo, Check);
        if (config.IsDpo || config.IsRlaif) ValidateDpo(config.Dpo, config.IsDpo, Check);
        if (config.IsRlaif) ValidateRlaif(config.Rlaif, Check);
        for (int i = 0; i < config.Eval.Watch.Length; i++)
        {
            var watch = config.Eval.Watch[i];
            Check(watch.Task.Length > 0, $"eval.watch[{i}].task", "must name a built-in task", watch.Task);
            CheckCount(watch.EvalExamples, $"eval.watch[{i}].eval_examples", MaxEvalExamples, Check);
        }

        Check(config.Eval.Every >= 0, "eval.every", "must be >= 0 (0 = only before and after training)", config.Eval.Every);
        Check(config.Eval.MaxNewTokens > 0, "eval.max_new_tokens", "must be > 0", config.Eval.MaxNewTokens);
        Check(config.Checkpoint.Every >= 0, "checkpoint.every", "must be >= 0 (0 = only at the end)", config.Checkpoint.Every);
        Check(config.Checkpoint.Keep >= 0, "checkpoint.keep", "must be >= 0 (0 = keep every checkpoint)", config.Checkpoint.Keep);
        Check(config.MaxNonfiniteSteps >= 0, "max_nonfinite_steps", "must be >= 0 (0 = fail at the first non-finite update)", config.MaxNonfiniteSteps);
        Check(config.OutputDir.Length > 0, "output_dir", "must be a folder path", config.OutputDir);
        return errors;
    }

    /// <summary>The system's GRPO fields (stage length, samplers, mode, rewards). The algorithm's own fields (β, ε,
    /// loss_type, …) are checked by the Training layer's GrpoOptions, which the YAML loader and the grains also run.</summary>
    static void ValidateGrpo(GrpoSection grpo, Action<bool, string, string, object?> check)
    {
        check(grpo.Steps > 0, "grpo.steps", "must be > 0", grpo.Steps);
        check(grpo.PromptsPerStep > 0, "grpo.prompts_per_step", "must be > 0", grpo.PromptsPerStep);
        check(grpo.Samplers is >= 1 and <= 64, "grpo.samplers", "must be between 1 and 64", grpo.Samplers);
        check(grpo.Samplers <= grpo.PromptsPerStep, "grpo.samplers", "must be <= grpo.prompts_per_step (each sampler needs a prompt)", grpo.Samplers);
        check(Enum.IsDefined(grpo.Mode), "grpo.mode", ConfigNames.OneOf<GrpoMode>(), grpo.Mode);
        check(Enum.IsDefined(grpo.LossType), "grpo.loss_type", ConfigNames.OneOf<GrpoLossType>(), grpo.LossType);
        check(Enum.IsDefined(grpo.KlEstimator), "grpo.kl_estimator", ConfigNames.OneOf<KlEstimatorType>(), grpo.KlEstimator);
        check(Enum.IsDefined(grpo.AdvantageEstimator), "grpo.advantage_estimator", ConfigNames.OneOf<AdvantageEstimatorType>(), grpo.AdvantageEstimator);
        check(Enum.IsDefined(grpo.StaleMode), "grpo.stale_mode", ConfigNames.OneOf<StaleModeType>(), grpo.StaleMode);
        check(grpo.Mode != GrpoMode.Async || grpo.MaxStaleness >= 1 || grpo.StaleMode == StaleModeType.TruncatedIs, "grpo.max_staleness",
            "must be >= 1 in async mode with stale_mode drop (async rollouts are one version old; 0 would drop every batch)", grpo.MaxStaleness);
        check(grpo.WeightDecay >= 0 && double.IsFinite(grpo.WeightDecay), "grpo.weight_decay", "must be >= 0", grpo.WeightDecay);
        check(grpo.MaxGradNorm >= 0 && double.IsFinite(grpo.MaxGradNorm), "grpo.max_grad_norm", "must be >= 0 (0 = no clipping)", grpo.MaxGradNorm);
        for (int i = 0; i < grpo.Rewards.Length; i++)
        {
            var term = grpo.Rewards[i];
            check(term.Name.Length > 0, $"grpo.rewards[{i}].name", "must name a reward", term.Name);
            check(double.IsFinite(term.Weight), $"grpo.rewards[{i}].weight", "must be a finite number", term.Weight);
        }
    }

    static void ValidateRewardModel(RewardModelSection rm, Action<bool, string, string, object?> check)
    {
        if (rm.Init is null) check(rm.Steps > 0, "reward_model.steps", "must be > 0", rm.Steps);
        else check(rm.Steps >= 0, "reward_model.steps", "must be >= 0 (0 with reward_model.init: use it as it is)", rm.Steps);
        check(rm.BatchSize > 0, "reward_model.batch_size", "must be > 0", rm.BatchSize);
        check(rm.LearningRate > 0 && double.IsFinite(rm.LearningRate), "reward_model.learning_rate", "must be > 0", rm.LearningRate);
        check(rm.WarmupSteps >= 0 && (rm.Steps == 0 || rm.WarmupSteps <= rm.Steps), "reward_model.warmup_steps", "must be between 0 and reward_model.steps", rm.WarmupSteps);
        check(rm.WeightDecay >= 0 && double.IsFinite(rm.WeightDecay), "reward_model.weight_decay", "must be >= 0", rm.WeightDecay);
        check(rm.MaxGradNorm >= 0 && double.IsFinite(rm.MaxGradNorm), "reward_model.max_grad_norm", "must be >= 0 (0 = no clipping)", rm.MaxGradNorm);
        check(rm.CenterRewardsCoefficient >= 0 && double.IsFinite(rm.CenterRewardsCoefficient), "reward_model.center_rewards_coefficient", "must be >= 0", rm.CenterRewardsCoefficient);
        ValidatePairs(rm.Pairs, "reward_model.pairs", check);
    }

    static void ValidatePairs(PreferenceDataSection pairs, string path, Action<bool, string, string, object?> check)
    {
        check(pairs.Task is null || pairs.TrainFile is null, path, "must set at most one of 'task' and 'train_file'", pairs.Task);
        check(pairs.TrainFile is null == pairs.EvalFile is null, $"{path}.eval_file", "must be given with train_file (held-out pairs)", pairs.EvalFile);
        if (pairs.TrainExamples is { } train) CheckCount(train, $"{path}.train_examples", MaxTrainExamples, check);
        if (pairs.EvalExamples is { } eval) CheckCount(eval, $"{path}.eval_examples", MaxEvalExamples, check);
    }

    /// <summary>A number of examples to generate: positive, and no more than <paramref name="max"/> (generation holds
    /// them all in memory, so an unbounded count grows until the process is killed).</summary>
    static void CheckCount(int count, string path, int max, Action<bool, string, string, object?> check)
    {
        check(count > 0, path, "must be > 0", count);
        check(count <= max, path, $"must be at most {max} (the limit for generated examples)", count);
    }

    static void ValidatePpo(PpoSection ppo, Action<bool, string, string, object?> check)
    {
        check(ppo.Steps > 0, "ppo.steps", "must be > 0", ppo.Steps);
        check(ppo.PromptsPerStep > 0, "ppo.prompts_per_step", "must be > 0", ppo.PromptsPerStep);
        check(ppo.NumGenerations > 0, "ppo.num_generations", "must be > 0", ppo.NumGenerations);
        check(ppo.LearningRate > 0 && double.IsFinite(ppo.LearningRate), "ppo.learning_rate", "must be > 0", ppo.LearningRate);
        check(ppo.CriticLearningRate > 0 && double.IsFinite(ppo.CriticLearningRate), "ppo.critic_learning_rate", "must be > 0", ppo.CriticLearningRate);
        check(ppo.Gamma is > 0 and <= 1, "ppo.gamma", "must be in (0, 1]", ppo.Gamma);
        check(ppo.Lam is >= 0 and <= 1, "ppo.lam", "must be in [0, 1]", ppo.Lam);
        check(ppo.Cliprange > 0 && double.IsFinite(ppo.Cliprange), "ppo.cliprange", "must be > 0", ppo.Cliprange);
        check(ppo.ClipRangeValue > 0 && double.IsFinite(ppo.ClipRangeValue), "ppo.cliprange_value", "must be > 0", ppo.ClipRangeValue);
        check(ppo.KlCoef >= 0 && double.IsFinite(ppo.KlCoef), "ppo.kl_coef", "must be >= 0", ppo.KlCoef);
        check(Enum.IsDefined(ppo.KlEstimator), "ppo.kl_estimator", ConfigNames.OneOf<KlEstimatorType>(), ppo.KlEstimator);
        check(ppo.NumPpoEpochs > 0, "ppo.num_ppo_epochs", "must be > 0", ppo.NumPpoEpochs);
        check(ppo.NumMiniBatches > 0 && ppo.NumMiniBatches <= ppo.PromptsPerStep * ppo.NumGenerations, "ppo.num_mini_batches",
            "must be between 1 and prompts_per_step × num_generations", ppo.NumMiniBatches);
        check(ppo.MaxCompletionLength > 0, "ppo.max_completion_length", "must be > 0", ppo.MaxCompletionLength);
        check(ppo.Temperature > 0 && double.IsFinite(ppo.Temperature), "ppo.temperature", "must be > 0", ppo.Temperature);
        check(ppo.Samplers is >= 1 and <= 64 && ppo.Samplers <= ppo.PromptsPerStep, "ppo.samplers", "must be between 1 and min(64, prompts_per_step)", ppo.Samplers);
        check(ppo.MaxGradNorm >= 0 && double.IsFinite(ppo.MaxGradNorm), "ppo.max_grad_norm", "must be >= 0 (0 = no clipping)", ppo.MaxGradNorm);
        for (int i = 0; i < ppo.Rewards.Length; i++)
        {
            check(ppo.Rewards[i].Name.Length > 0, $"ppo.rewards[{i}].name", "must name a reward", ppo.Rewards[i].Name);
            check(double.IsFinite(ppo.Rewards[i].Weight), $"ppo.rewards[{i}].weight", "must be a finite number", ppo.Rewards[i].Weight);
        }
    }

    static void ValidateDpo(DpoSection dpo, bool offline, Action<bool, string, string, object?> check)
    {
        if (offline) check(dpo.Steps > 0, "dpo.steps", "must be > 0", dpo.Steps);
        check(dpo.BatchSize > 0, "dpo.batch_size", "must be > 0", dpo.BatchSize);
        check(dpo.LearningRate > 0 && double.IsFinite(dpo.LearningRate), "dpo.learning_rate", "must be > 0", dpo.LearningRate);
        check(dpo.Beta > 0 && double.IsFinite(dpo.Beta), "dpo.beta", "must be > 0", dpo.Beta);
        check(Enum.IsDefined(dpo.LossType), "dpo.loss_type", ConfigNames.OneOf<DpoLossVariant>(), dpo.LossType);
        check(dpo.LabelSmoothing is >= 0 and < 0.5, "dpo.label_smoothing", "must be in [0, 0.5)", dpo.LabelSmoothing);
        check(dpo.SimpoGamma >= 0 && double.IsFinite(dpo.SimpoGamma), "dpo.simpo_gamma", "must be >= 0", dpo.SimpoGamma);
        check(dpo.RpoAlpha >= 0 && double.IsFinite(dpo.RpoAlpha), "dpo.rpo_alpha", "must be >= 0 (0 = off)", dpo.RpoAlpha);
        check(dpo.WeightDecay >= 0 && double.IsFinite(dpo.WeightDecay), "dpo.weight_decay", "must be >= 0", dpo.WeightDecay);
        check(dpo.MaxGradNorm >= 0 && double.IsFinite(dpo.MaxGradNorm), "dpo.max_grad_norm", "must be >= 0 (0 = no clipping)", dpo.MaxGradNorm);
        ValidatePairs(dpo.Pairs, "dpo.pairs", check);
    }

    static void ValidateRlaif(RlaifSection rlaif, Action<bool, string, string, object?> check)
    {
        check(rlaif.Rounds > 0, "rlaif.rounds", "must be > 0", rlaif.Rounds);
        check(rlaif.PromptsPerRound > 0, "rlaif.prompts_per_round", "must be > 0", rlaif.PromptsPerRound);
        check(rlaif.NumCandidates >= 2, "rlaif.num_candidates", "must be >= 2 (a pair needs two candidates)", rlaif.NumCandidates);
        check(rlaif.StepsPerRound > 0, "rlaif.steps_per_round", "must be > 0", rlaif.StepsPerRound);
        check(rlaif.Temperature > 0 && double.IsFinite(rlaif.Temperature), "rlaif.temperature", "must be > 0", rlaif.Temperature);
        check(rlaif.MaxCompletionLength > 0, "rlaif.max_completion_length", "must be > 0", rlaif.MaxCompletionLength);
        check(rlaif.Samplers is >= 1 and <= 64 && rlaif.Samplers <= rlaif.PromptsPerRound, "rlaif.samplers", "must be between 1 and min(64, prompts_per_round)", rlaif.Samplers);
        var judge = rlaif.Judge;
        check(Enum.IsDefined(judge.Type), "rlaif.judge.type", ConfigNames.OneOf<JudgeType>(), judge.Type);
        if (judge.Type == JudgeType.Http)
        {
            check(Uri.TryCreate(judge.BaseUrl, UriKind.Absolute, out var url) && url.Scheme is "http" or "https", "rlaif.judge.base_url",
                "must be an http(s) URL such as https://api.example.com/v1", judge.BaseUrl);
            check(!string.IsNullOrWhiteSpace(judge.Model), "rlaif.judge.model", "must name the endpoint's model", judge.Model);
        }
        if (judge.Type == JudgeType.Decoder)
            check(!string.IsNullOrWhiteSpace(judge.Model), "rlaif.judge.model", "must be the judge's model folder", judge.Model);
        check(judge.ApiKeyEnv is null || judge.ApiKeyEnv.Length > 0, "rlaif.judge.api_key_env", "must name an environment variable", judge.ApiKeyEnv);
        check(judge.MaxConcurrency is >= 1 and <= 256, "rlaif.judge.max_concurrency", "must be between 1 and 256", judge.MaxConcurrency);
        check(judge.TimeoutSeconds > 0 && double.IsFinite(judge.TimeoutSeconds), "rlaif.judge.timeout_seconds", "must be > 0", judge.TimeoutSeconds);
        check(judge.Retries is >= 0 and <= 20, "rlaif.judge.retries", "must be between 0 and 20", judge.Retries);
        check(judge.MaxResponseBytes is >= 1 << 10 and <= 1 << 30, "rlaif.judge.max_response_bytes",
            "must be between 1024 (1 KiB) and 1073741824 (1 GiB)", judge.MaxResponseBytes);
        check(judge.MinConfidence is >= 0.5 and < 1, "rlaif.judge.min_confidence",
            "must be in [0.5, 1): the judge's probability that best beats worst (0.5 keeps every pair)", judge.MinConfidence);
    }

    static string Show(object? value) => value switch
    {
        null => "nothing",
        string s => $"'{s}'",
        Enum e => Enum.IsDefined(e.GetType(), e) ? $"'{ConfigNames.Yaml(e)}'" : $"{Convert.ToInt64(e, CultureInfo.InvariantCulture)}",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    [GeneratedRegex("^[A-Za-z0-9._-]{1,100}$")]
    private static partial Regex NamePattern();
}
