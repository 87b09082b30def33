using System.Globalization;

namespace RlhfActors.Training.Preference;

/// <summary>
/// DPO-family hyperparameters, named after TRL's DPOConfig (SimPO's γ after CPOConfig's simpo_gamma). Defaults are
/// TRL's; snake-case names in messages are the YAML/TRL names.
/// </summary>
public sealed record DpoOptions
{
    /// <summary>β (TRL beta: 0.1): the inverse temperature of the implicit reward β·log(π/π_ref), i.e. how strongly
    /// the policy is held near the reference (IPO: the target gap is 1/(2β); SimPO: the reward scale, 2.0–2.5 in the
    /// paper).</summary>
    public double Beta { get; init; } = 0.1;

    /// <summary>Loss variant (TRL loss_type: "sigmoid").</summary>
    public DpoLossType LossType { get; init; } = DpoLossType.Sigmoid;

    /// <summary>ε, assumed label-flip probability (TRL label_smoothing: 0.0); read by sigmoid (cDPO), robust and simpo.</summary>
    public double LabelSmoothing { get; init; }

    /// <summary>γ, SimPO's target reward margin (TRL CPOConfig simpo_gamma: 0.5); read by simpo only.</summary>
    public double SimpoGamma { get; init; } = 0.5;

    /// <summary>α of RPO (TRL rpo_alpha: None = 0): weight of the chosen completions' per-token NLL added to the loss
    /// (<see cref="DpoLoss.ChosenNll"/>).</summary>
    public double RpoAlpha { get; init; }

    /// <summary>KTO's weight of the desirable examples' losses (TRL KTOConfig desirable_weight: 1.0); read by kto only.</summary>
    public double DesirableWeight { get; init; } = 1.0;

    /// <summary>KTO's weight of the undesirable examples' losses (TRL KTOConfig undesirable_weight: 1.0); read by kto only.</summary>
    public double UndesirableWeight { get; init; } = 1.0;

    /// <summary>Peak learning rate (TRL learning_rate: 1e-6, for billion-parameter models; small decoders need more).</summary>
    public double LearningRate { get; init; } = 1e-6;

    /// <summary>Pairs per optimizer step (TRL per_device_train_batch_size: 8).</summary>
    public int BatchSize { get; init; } = 8;

    /// <summary>Global gradient-norm clip (TRL max_grad_norm: 1.0); 0 = no clipping.</summary>
    public double MaxGradNorm { get; init; } = 1.0;
    /// <summary>Updates with a non-finite loss or gradient norm that are skipped before the run fails (see
    /// <see cref="Optim.FiniteUpdates"/>); the experiment's <c>max_nonfinite_steps</c>.</summary>
    public int MaxNonfiniteSteps { get; init; } = 3;

    /// <summary>AdamW decoupled weight decay on matrices (TRL weight_decay: 0.0).</summary>
    public double WeightDecay { get; init; }

    /// <summary>Every invalid field, one message each, naming the field: "dpo.beta must be > 0 (got 0)".</summary>
    public IReadOnlyList<string> Errors()
    {
        var errors = DpoLoss.Errors(Beta, LabelSmoothing, SimpoGamma)
            .Concat(KtoLoss.Errors(Beta, DesirableWeight, UndesirableWeight).Where(e => !e.StartsWith("dpo.beta ", StringComparison.Ordinal)))
            .ToList();
        void Check(bool ok, string field, string rule, object value)
        {
            if (!ok) errors.Add(string.Create(CultureInfo.InvariantCulture, $"dpo.{field} {rule} (got {value})"));
        }
        Check(Enum.IsDefined(LossType), "loss_type", "must be sigmoid, ipo, robust, simpo, orpo or kto", LossType);
        // ORPO's loss holds the chosen NLL already, at weight 1; KTO's rows are single completions, undesirable ones too.
        Check(LossType != DpoLossType.Orpo || RpoAlpha == 0, "rpo_alpha", "must be 0 with loss_type orpo (its loss already holds the chosen NLL)", RpoAlpha);
        Check(LossType != DpoLossType.Kto || RpoAlpha == 0, "rpo_alpha", "must be 0 with loss_type kto (its rows are single completions, not pairs)", RpoAlpha);
        Check(RpoAlpha >= 0 && double.IsFinite(RpoAlpha), "rpo_alpha", "must be >= 0 (0 = off)", RpoAlpha);
        Check(LearningRate > 0 && double.IsFinite(LearningRate), "learning_rate", "must be > 0", LearningRate);
        Check(BatchSize >= 1, "batch_size", "must be >= 1", BatchSize);
        Check(MaxGradNorm >= 0 && double.IsFinite(MaxGradNorm), "max_grad_norm", "must be >= 0 (0 = no clipping)", MaxGradNorm);
        Check(WeightDecay >= 0 && double.IsFinite(WeightDecay), "weight_decay", "must be >= 0", WeightDecay);
        return errors;
    }

    /// <summary>Throws <see cref="ArgumentException"/> listing every invalid field.</summary>
    public void Validate()
    {
        var errors = Errors();
        if (errors.Count > 0) throw new ArgumentException(string.Join("; ", errors));
    }

    /// <summary>Whether the loss compares against a reference policy (all but SimPO and ORPO).</summary>
    public bool NeedsReference => LossType is not (DpoLossType.Simpo or DpoLossType.Orpo);

    /// <summary>Weight of the chosen completions' per-token NLL in the loss: 1 for ORPO, whose objective it is part
    /// of, else RPO's α (0 = none).</summary>
    public double ChosenNllWeight => LossType == DpoLossType.Orpo ? 1.0 : RpoAlpha;
}
