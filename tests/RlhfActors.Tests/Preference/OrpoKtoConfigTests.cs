using RlhfActors.Abstractions.Config;

namespace RlhfActors.Tests.Preference;

/// <summary>The dpo section's rules for orpo and kto, each naming its YAML field.</summary>
public sealed class OrpoKtoConfigTests
{
    static ExperimentConfig With(DpoLossVariant lossType, Func<DpoSection, DpoSection> change, int learners = 1)
    {
        var config = TinyPreference.Dpo("orpo-kto-rules", lossType);
        return config with { Dpo = change(config.Dpo), Parallel = config.Parallel with { Learners = learners } };
    }

    [Theory]
    [InlineData(DpoLossVariant.Orpo, "dpo.rpo_alpha", "must be 0 with loss_type orpo")]
    [InlineData(DpoLossVariant.Kto, "dpo.rpo_alpha", "must be 0 with loss_type kto")]
    public void Rpo_alpha_is_refused_with_orpo_and_kto(DpoLossVariant lossType, string field, string rule) =>
        Assert.Contains(ExperimentConfigValidator.Validate(With(lossType, d => d with { RpoAlpha = 0.5 })), e => e.Path == field && e.Message.Contains(rule));

    [Fact]
    public void Kto_fields_are_checked_by_name()
    {
        Assert.Empty(ExperimentConfigValidator.Validate(With(DpoLossVariant.Kto, d => d)));
        var errors = ExperimentConfigValidator.Validate(With(DpoLossVariant.Kto,
            d => d with { BatchSize = 1, DesirableWeight = 0, UndesirableWeight = double.NaN, LabelSmoothing = 0.1 }, learners: 2));
        foreach (var field in new[] { "dpo.batch_size", "dpo.desirable_weight", "dpo.undesirable_weight", "dpo.label_smoothing", "parallel.learners" })
            Assert.Contains(errors, e => e.Path == field && e.Message.StartsWith(field + " "));
        Assert.Contains(errors, e => e.Message.Contains("must be 1 with dpo.loss_type kto"));
    }
}
