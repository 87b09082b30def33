namespace RlhfActors.Abstractions.Config;

/// <summary>The DPO family's loss (<c>dpo.loss_type</c>): sigmoid (DPO), ipo, robust, simpo, orpo (reference-free,
/// NLL + odds ratio) and kto (unpaired: each completion desirable or not, against a batch KL reference point).</summary>
public enum DpoLossVariant { Sigmoid, Ipo, Robust, Simpo, Orpo, Kto }

/// <summary>
/// The DPO-family update (<c>dpo:</c>): the whole stage of <c>algorithm: dpo</c> (offline, on labelled pairs) and the
/// update of every RLAIF round (on the judge's pairs). Names are TRL's DPOConfig names; ORPO's β is ORPOConfig's beta
/// (the paper's λ), KTO's β and weights KTOConfig's. With loss_type kto, batch_size counts single completions (TRL's
/// per_device_train_batch_size on the unpaired dataset) and pairs are unpaired, each into a desirable chosen and an
/// undesirable rejected completion; <c>pairs.train_file</c> may also hold TRL's unpaired form.
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
    /// <summary>KTO's weight of the desirable completions' losses (TRL KTOConfig desirable_weight).</summary>
    [Id(11)] public double DesirableWeight { get; init; } = 1.0;
    /// <summary>KTO's weight of the undesirable completions' losses (TRL KTOConfig undesirable_weight).</summary>
    [Id(12)] public double UndesirableWeight { get; init; } = 1.0;

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
        // ORPO's loss holds the chosen NLL already, at weight 1; KTO's rows are single completions, undesirable ones too.
        rules.Check(LossType != DpoLossVariant.Orpo || RpoAlpha == 0, "dpo.rpo_alpha", "must be 0 with loss_type orpo (its loss already holds the chosen NLL)", RpoAlpha);
        rules.Check(LossType != DpoLossVariant.Kto || RpoAlpha == 0, "dpo.rpo_alpha", "must be 0 with loss_type kto (its rows are single completions, not pairs)", RpoAlpha);
        rules.Check(LossType is not (DpoLossVariant.Orpo or DpoLossVariant.Kto) || LabelSmoothing == 0, "dpo.label_smoothing",
            $"is not read by loss_type {LossType.Yaml()}: leave it 0", LabelSmoothing);
        rules.Check(DesirableWeight > 0 && double.IsFinite(DesirableWeight), "dpo.desirable_weight", "must be > 0", DesirableWeight);
        rules.Check(UndesirableWeight > 0 && double.IsFinite(UndesirableWeight), "dpo.undesirable_weight", "must be > 0", UndesirableWeight);
        // KTO's reference point pairs each prompt with another example's completion of the same batch (TRL: > 1).
        rules.Check(LossType != DpoLossVariant.Kto || BatchSize >= 2, "dpo.batch_size", "must be >= 2 with loss_type kto (the KL completions come from the rest of the batch)", BatchSize);
        rules.Check(WeightDecay >= 0 && double.IsFinite(WeightDecay), "dpo.weight_decay", "must be >= 0", WeightDecay);
        rules.Check(MaxGradNorm >= 0 && double.IsFinite(MaxGradNorm), "dpo.max_grad_norm", "must be >= 0 (0 = no clipping)", MaxGradNorm);
        Pairs.Validate(rules, "dpo.pairs");
    }
}
