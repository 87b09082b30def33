namespace RlhfActors.Abstractions.Config;

/// <summary>The DPO family's loss (<c>dpo.loss_type</c>): sigmoid (DPO), ipo, robust, simpo.</summary>
public enum DpoLossVariant { Sigmoid, Ipo, Robust, Simpo }

/// <summary>
/// The DPO-family update (<c>dpo:</c>): the whole stage of <c>algorithm: dpo</c> (offline, on labelled pairs) and the
/// update of every RLAIF round (on the judge's pairs). Names are TRL's DPOConfig names.
/// </summary>
[GenerateSerializer, Immutable, Alias("rlhf.DpoSection")]
public sealed record DpoSection
{
    /// <summary>Updates of the offline stage (algorithm: dpo).</summary>
    [Id(0)] public int Steps { get; init; } = 300;
    [Id(1)] public int BatchSize { get; init; } = 32;
    [Id(2)] public double LearningRate { get; init; } = 1e-4;
    [Id(3)] public double Beta { get; init; } = 0.1;
    [Id(4)] public DpoLossVariant LossType { get; init; } = DpoLossVariant.Sigmoid;
    /// <summary>ε of conservative DPO (sigmoid) and robust DPO: the assumed fraction of flipped labels.</summary>
    [Id(5)] public double LabelSmoothing { get; init; }
    /// <summary>SimPO's target reward margin γ.</summary>
    [Id(6)] public double SimpoGamma { get; init; } = 0.5;
    [Id(7)] public double WeightDecay { get; init; }
    [Id(8)] public double MaxGradNorm { get; init; } = 1.0;
    [Id(9)] public PreferenceDataSection Pairs { get; init; } = new();
    /// <summary>α of RPO (Pang et al. 2024, TRL rpo_alpha): adds α × the chosen completions' per-token NLL to the loss,
    /// so chosen answers gain likelihood instead of both sides losing it; 0 = off.</summary>
    [Id(10)] public double RpoAlpha { get; init; }

    /// <summary>This section's rules; <paramref name="offline"/>: the stage of <c>algorithm: dpo</c>, which needs steps.</summary>
    public void Validate(ConfigRules rules, bool offline)
    {
        if (offline) rules.Check(Steps > 0, "dpo.steps", "must be > 0", Steps);
        rules.Check(BatchSize > 0, "dpo.batch_size", "must be > 0", BatchSize);
        rules.Check(LearningRate > 0 && double.IsFinite(LearningRate), "dpo.learning_rate", "must be > 0", LearningRate);
        rules.Check(Beta > 0 && double.IsFinite(Beta), "dpo.beta", "must be > 0", Beta);
        rules.Check(Enum.IsDefined(LossType), "dpo.loss_type", ConfigNames.OneOf<DpoLossVariant>(), LossType);
        rules.Check(LabelSmoothing is >= 0 and < 0.5, "dpo.label_smoothing", "must be in [0, 0.5)", LabelSmoothing);
        rules.Check(SimpoGamma >= 0 && double.IsFinite(SimpoGamma), "dpo.simpo_gamma", "must be >= 0", SimpoGamma);
        rules.Check(RpoAlpha >= 0 && double.IsFinite(RpoAlpha), "dpo.rpo_alpha", "must be >= 0 (0 = off)", RpoAlpha);
        rules.Check(WeightDecay >= 0 && double.IsFinite(WeightDecay), "dpo.weight_decay", "must be >= 0", WeightDecay);
        rules.Check(MaxGradNorm >= 0 && double.IsFinite(MaxGradNorm), "dpo.max_grad_norm", "must be >= 0 (0 = no clipping)", MaxGradNorm);
        Pairs.Validate(rules, "dpo.pairs");
    }
}
