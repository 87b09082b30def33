using RlhfActors.Abstractions.Config;
using RlhfActors.Training.Peft;

namespace RlhfActors.Grains.Specs;

/// <summary>The config's <c>peft:</c> section → the Training layer's <see cref="LoraSettings"/> per stage. Errors name
/// the YAML field (<c>peft.r</c>).</summary>
public static class PeftSpecs
{
    /// <summary>The adapters <paramref name="stage"/> ("sft" / "grpo") trains, or null for full fine-tuning.</summary>
    public static LoraSettings? For(ExperimentConfig config, string stage) =>
        config.Peft.Covers(stage) ? Settings(config.Peft) : null;

    public static LoraSettings Settings(PeftSection p) => new()
    {
        Rank = p.R,
        Alpha = p.Alpha,
        Dropout = p.Dropout,
        TargetModules = p.TargetModules.IsDefaultOrEmpty ? LoraSettings.AllLinear : [.. p.TargetModules],
        QuantizeBase = p.Type == PeftType.Qlora,
        DoubleQuant = p.DoubleQuant,
    };

    public static IReadOnlyList<ConfigError> Errors(ExperimentConfig config)
    {
        var p = config.Peft;
        var errors = new List<ConfigError>();
        if (!Enum.IsDefined(p.Type))
        {
            errors.Add(new ConfigError("peft.type", $"peft.type {ConfigNames.OneOf<PeftType>()} (got {p.Type})"));
            return errors;
        }
        if (!p.Enabled) return errors;
        if (config.IsPpo || config.IsDpo || config.IsRlaif || config.IsDistill || config.IsOnlineDpo)
        {
            errors.Add(new ConfigError("peft.type", $"peft.type: adapters are supported in sft and grpo runs; a {config.Algorithm.Yaml()} run trains full weights (remove the peft section)"));
            return errors;
        }
        foreach (var message in Settings(p).Errors())
        {
            var field = message.Split(' ')[0].TrimEnd(':');
            errors.Add(new ConfigError($"peft.{field}", $"peft.{message}"));
        }
        string[] stages = config.IsGrpo ? [PeftSection.SftStage, PeftSection.GrpoStage] : [PeftSection.SftStage];
        foreach (var s in p.Stages.IsDefaultOrEmpty ? [] : p.Stages)
            if (!stages.Contains(s))
                errors.Add(new ConfigError("peft.stages", $"peft.stages: '{s}' is not a stage of this {config.Algorithm.Yaml()} run ({string.Join(", ", stages)})"));
        // Adapters stay on once a stage has them: a full fine-tuning stage after a PEFT stage is not supported.
        if (config.IsGrpo && p.Covers(PeftSection.SftStage) && !p.Covers(PeftSection.GrpoStage))
            errors.Add(new ConfigError("peft.stages", "peft.stages: a GRPO stage after a PEFT warm-up must use adapters too (use [sft, grpo] or [grpo])"));
        return errors;
    }
}
