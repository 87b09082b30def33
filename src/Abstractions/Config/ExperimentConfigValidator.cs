using System.Text.RegularExpressions;

namespace RlhfActors.Abstractions.Config;

/// <summary>
/// Checks an <see cref="ExperimentConfig"/>'s field rules, independent of where it came from: the top-level fields
/// here, every section's through its own <c>Validate</c> (each field's rules live with its default, in its section),
/// for the sections the algorithm reads. The Grains' ConfigChecks runs this first, then the Training layer's rules;
/// the YAML loader and <c>IExperimentGrain.Start</c> both run that. File-system checks (does model.init exist?) are
/// not here: they belong to the machine that reads the files.
/// </summary>
public static partial class ExperimentConfigValidator
{
    public static IReadOnlyList<ConfigError> Validate(ExperimentConfig config)
    {
        var rules = new ConfigRules();
        rules.Check(config.Name.Length > 0 && NamePattern().IsMatch(config.Name), "name",
            "must be 1-100 letters, digits, '.', '_' or '-'", config.Name);
        // Enums: a config built in code may cast any number into one.
        rules.Check(Enum.IsDefined(config.Algorithm), "algorithm", ConfigNames.OneOf<Algorithm>(), config.Algorithm);
        rules.Check(config.MaxNonfiniteSteps >= 0, "max_nonfinite_steps", "must be >= 0 (0 = fail at the first non-finite update)", config.MaxNonfiniteSteps);
        rules.Check(config.OutputDir.Length > 0, "output_dir", "must be a folder path", config.OutputDir);

        config.Model.Validate(rules);
        config.Data.Validate(rules);
        config.Sft.Validate(rules, config.HasWarmUp ? config.Algorithm : null);
        if (config.IsGrpo) config.Grpo.Validate(rules);
        if (config.TrainsRewardModel) config.RewardModel.Validate(rules);
        if (config.IsPpo) config.Ppo.Validate(rules);
        if (config.IsDpo || config.IsRlaif || config.IsOnlineDpo) config.Dpo.Validate(rules, offline: config.IsDpo);
        if (config.IsRlaif) config.Rlaif.Validate(rules);
        if (config.IsDistill) config.Distill.Validate(rules);
        if (config.IsOnlineDpo) config.OnlineDpo.Validate(rules);
        config.Eval.Validate(rules);
        config.Checkpoint.Validate(rules);
        config.WeightSync.Validate(rules);
        config.Parallel.Validate(rules, config);
        config.Logging.Validate(rules);
        return rules.Errors;
    }

    [GeneratedRegex("^[A-Za-z0-9._-]{1,100}$")]
    private static partial Regex NamePattern();
}
