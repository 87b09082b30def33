using System.Globalization;
using System.Text.RegularExpressions;

namespace RlhfActors.Abstractions.Config;

/// <summary>
/// Checks an <see cref="ExperimentConfig"/>'s values, independent of where it came from: the YAML loader runs it
/// before anything starts, and <c>IExperimentGrain.Start</c> runs it again for configs built in code.
/// File-system checks (does model.init exist?) are not here: they belong to the machine that reads the files.
/// </summary>
public static partial class ExperimentConfigValidator
{
    public static readonly IReadOnlyList<string> Algorithms = ["sft", "grpo"];
    public static readonly IReadOnlyList<string> DTypes = ["bf16", "fp32"];

    public static IReadOnlyList<ConfigError> Validate(ExperimentConfig config)
    {
        var errors = new List<ConfigError>();
        void Check(bool ok, string path, string rule, object? got)
        {
            if (!ok) errors.Add(new ConfigError(path, $"{path} {rule} (got {Show(got)})"));
        }

        Check(config.Name.Length > 0 && NamePattern().IsMatch(config.Name), "name",
            "must be 1-100 letters, digits, '.', '_' or '-'", config.Name);
        Check(Algorithms.Contains(config.Algorithm), "algorithm",
            $"must be one of: {string.Join(", ", Algorithms)}", config.Algorithm);

        var model = config.Model;
        Check(model.Init.Length > 0, "model.init", $"must be '{ModelSection.Scratch}' or a Hugging Face model folder", model.Init);
        Check(DTypes.Contains(model.DType), "model.dtype", $"must be one of: {string.Join(", ", DTypes)}", model.DType);
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
        Check(data.TrainExamples > 0, "data.train_examples", "must be > 0", data.TrainExamples);
        Check(data.EvalExamples > 0, "data.eval_examples", "must be > 0", data.EvalExamples);
        Check(data.TeacherCarryDrop is >= 0 and <= 1, "data.teacher_carry_drop", "must be between 0 and 1", data.TeacherCarryDrop);
        Check(data.TeacherCarryDrop == 0 || data.Task == "addition", "data.teacher_carry_drop", "needs data.task: addition", data.Task);

        var sft = config.Sft;
        if (config.IsGrpo) Check(sft.Steps >= 0, "sft.steps", "must be >= 0 (the SFT warm-up before GRPO; 0 = none)", sft.Steps);
        else Check(sft.Steps > 0, "sft.steps", "must be > 0", sft.Steps);
        Check(sft.BatchSize > 0, "sft.batch_size", "must be > 0", sft.BatchSize);
        Check(sft.LearningRate > 0 && double.IsFinite(sft.LearningRate), "sft.learning_rate", "must be > 0", sft.LearningRate);
        Check(sft.WarmupSteps >= 0 && (sft.WarmupSteps <= sft.Steps || config.IsGrpo && sft.Steps == 0), "sft.warmup_steps", "must be between 0 and sft.steps", sft.WarmupSteps);
        Check(sft.MinLearningRateRatio is >= 0 and <= 1, "sft.min_learning_rate_ratio", "must be between 0 and 1", sft.MinLearningRateRatio);
        Check(sft.WeightDecay >= 0 && double.IsFinite(sft.WeightDecay), "sft.weight_decay", "must be >= 0", sft.WeightDecay);
        Check(sft.AdamBeta1 is >= 0 and < 1, "sft.adam_beta1", "must be in [0, 1)", sft.AdamBeta1);
        Check(sft.AdamBeta2 is >= 0 and < 1, "sft.adam_beta2", "must be in [0, 1)", sft.AdamBeta2);
        Check(sft.MaxGradNorm > 0 && double.IsFinite(sft.MaxGradNorm), "sft.max_grad_norm", "must be > 0", sft.MaxGradNorm);

        if (config.IsGrpo) ValidateGrpo(config.Grpo, Check);

        Check(config.Eval.Every >= 0, "eval.every", "must be >= 0 (0 = only before and after training)", config.Eval.Every);
        Check(config.Eval.MaxNewTokens > 0, "eval.max_new_tokens", "must be > 0", config.Eval.MaxNewTokens);
        Check(config.Checkpoint.Every >= 0, "checkpoint.every", "must be >= 0 (0 = only at the end)", config.Checkpoint.Every);
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
        check(grpo.Mode is GrpoSection.Sync or GrpoSection.Async, "grpo.mode", $"must be {GrpoSection.Sync} or {GrpoSection.Async}", grpo.Mode);
        check(grpo.Mode != GrpoSection.Async || grpo.MaxStaleness >= 1 || grpo.StaleMode == "truncated_is", "grpo.max_staleness",
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

    /// <summary>Throws <see cref="ArgumentException"/> listing every error, for callers that cannot report a list.</summary>
    public static void ThrowIfInvalid(ExperimentConfig config)
    {
        var errors = Validate(config);
        if (errors.Count > 0)
        {
            var where = config.SourceFile is null ? "experiment config" : config.SourceFile;
            throw new ArgumentException($"{where}: " + string.Join("; ", errors.Select(e => e.Message)), nameof(config));
        }
    }

    static string Show(object? value) => value switch
    {
        null => "nothing",
        string s => $"'{s}'",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    [GeneratedRegex("^[A-Za-z0-9._-]{1,100}$")]
    private static partial Regex NamePattern();
}
