using RlhfActors.Abstractions.Config;
using RlhfActors.Training.Tasks;

namespace RlhfActors.Grains.Specs;

/// <summary>
/// The one complete check of a config's values, run by the YAML loader (client) and by <c>IExperimentGrain.Start</c>
/// (silo) alike, so a config built in code meets the same rules as one read from a file: the Abstractions' field rules
/// (<see cref="ExperimentConfigValidator"/>), then the Training layer's (PEFT, GRPO's algorithm fields and rewards, the
/// DPO and PPO options) and the built-in tasks' parameters, each named by its YAML field. Reads no file: what the run
/// will read is checked by <see cref="InputChecks"/>.
/// </summary>
public static class ConfigChecks
{
    public static IReadOnlyList<ConfigError> Errors(ExperimentConfig config)
    {
        var errors = ExperimentConfigValidator.Validate(config).ToList();
        // The later checks map fields to Training's options, which assume the basic rules hold.
        if (errors.Count > 0) return errors;
        errors.AddRange(PeftSpecs.Errors(config));
        if (config.IsGrpo) errors.AddRange(GrpoSpecs.Errors(config));
        if (config.IsPpo) errors.AddRange(Named("ppo", PpoSpecs.Options(config).Errors()));
        if (config.IsDpo || config.IsRlaif || config.IsOnlineDpo)
        {
            try { errors.AddRange(Named("dpo", PreferenceSpecs.Dpo(config).Errors())); }
            catch (ArgumentException e) { errors.Add(new ConfigError("dpo.loss_type", e.Message)); }
        }
        if (config.IsDistill) errors.AddRange(DistillSpecs.Errors(config));
        errors.AddRange(TaskErrors(config));
        return errors;
    }

    /// <summary>Throws <see cref="ArgumentException"/> listing every error, for callers that cannot report a list.</summary>
    public static void ThrowIfInvalid(ExperimentConfig config)
    {
        var errors = Errors(config);
        if (errors.Count > 0)
            throw new ArgumentException($"{config.SourceFile ?? "experiment config"}: " + string.Join("; ", errors.Select(e => e.Message)));
    }

    /// <summary>Every built-in task the config names exists and takes the parameters given (unknown keys, such as a
    /// misspelt <c>digts</c>, and values out of range are errors, as the task itself would find them minutes later).</summary>
    static IEnumerable<ConfigError> TaskErrors(ExperimentConfig config)
    {
        ConfigError? Check(string? task, IReadOnlyDictionary<string, int> parameters, string field)
        {
            if (task is null) return null;
            try
            {
                SyntheticTasks.Create(task, parameters);
                return null;
            }
            catch (ArgumentException e)
            {
                var path = e.ParamName == "name" ? $"{field}.task" : $"{field}.task_parameters";
                return new ConfigError(path, $"{path}: {e.Message.Split(" (Parameter")[0]}");
            }
        }
        var data = Check(config.Data.Task, config.Data.TaskParameters, "data");
        if (data is not null) yield return data;
        for (var i = 0; i < config.Eval.Watch.Length; i++)
            if (Check(config.Eval.Watch[i].Task, config.Eval.Watch[i].TaskParameters, $"eval.watch[{i}]") is { } watch) yield return watch;
        foreach (var (pairs, field, used) in new[]
                 {
                     (config.RewardModel.Pairs, "reward_model.pairs", config.TrainsRewardModel),
                     (config.Dpo.Pairs, "dpo.pairs", config.IsDpo),
                 })
        {
            if (!used || pairs.Task is null || pairs.TrainFile is not null) continue;
            var parameters = pairs.TaskParameters.Count > 0 || pairs.Task != config.Data.Task ? pairs.TaskParameters : config.Data.TaskParameters;
            if (Check(pairs.Task, parameters, field) is { } error) yield return error;
        }
    }

    /// <summary>Training's option messages start with the field, with its section ("ppo.gamma must be …") or without it
    /// ("beta must be …"); each becomes an error on <c>section.field</c>.</summary>
    static IEnumerable<ConfigError> Named(string section, IEnumerable<string> messages) => messages.Select(m =>
    {
        var message = m.StartsWith(section + ".", StringComparison.Ordinal) ? m : $"{section}.{m}";
        return new ConfigError(message.Split(' ')[0].TrimEnd(':'), message);
    });
}
