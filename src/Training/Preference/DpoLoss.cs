using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace RlhfActors.Training.Preference;

/// <summary>Which preference loss (TRL DPOConfig / CPOConfig loss_type).</summary>
public enum DpoLossType
{
    /// <summary>DPO (Rafailov et al. 2023), TRL "sigmoid"; with label smoothing ε &gt; 0 it is conservative DPO (cDPO).</summary>
    Sigmoid,
    /// <summary>IPO (Azar et al. 2023), TRL "ipo": squared loss on length-averaged log-ratios.</summary>
    Ipo,
    /// <summary>Robust DPO (Chowdhury et al. 2024), TRL "robust": unbiased under label noise of rate ε.</summary>
    Robust,
    /// <summary>SimPO (Meng et al. 2024), TRL CPOTrainer "simpo": reference-free, length-averaged, margin γ.</summary>
    Simpo,
    /// <summary>ORPO (Hong et al. 2024), TRL ORPOTrainer: reference-free, the chosen NLL plus β × an odds-ratio
    /// penalty on length-averaged log-probs (<see cref="OrpoLoss"/>).</summary>
    Orpo,
    /// <summary>KTO (Ethayarajh et al. 2024), TRL KTOTrainer: unpaired desirable / undesirable completions against a
    /// batch KL reference point (<see cref="KtoLoss"/>); not a pairwise loss.</summary>
    Kto,
}

/// <summary>
/// Sequence log-probs of a batch of preference pairs, all [B]. Log-probs are sums over each completion's tokens
/// (eos included); lengths are those token counts, as float. The loss averages by length where its variant says so.
/// </summary>
/// <param name="ReferenceChosen">Reference model's log-prob of the chosen completion; null only for SimPO.</param>
public sealed record DpoLossInputs(Tensor PolicyChosen, Tensor PolicyRejected, Tensor? ReferenceChosen,
    Tensor? ReferenceRejected, Tensor ChosenLength, Tensor RejectedLength);

/// <summary>The scalar loss (mean over pairs, differentiable w.r.t. the policy log-probs) and TRL's logged metrics,
/// detached: rewards/chosen, rewards/rejected, rewards/margins (mean of chosen − rejected) and rewards/accuracies
/// (share of pairs whose chosen reward is strictly above the rejected one).</summary>
public sealed record DpoLossOutput(Tensor Loss, double RewardsChosen, double RewardsRejected, double Margin, double Accuracy)
{
    /// <summary>The variant's own logged figures under TRL's names (ORPO: log_odds_ratio, log_odds_chosen; KTO: kl);
    /// empty for the others.</summary>
    public IReadOnlyDictionary<string, double> Logged { get; init; } = new Dictionary<string, double>();
}

/// <summary>
/// The DPO family of pairwise preference losses, exactly as TRL's DPOTrainer.dpo_loss and CPOTrainer.cpo_loss
/// define them. With the implicit reward r(y) = β·(log π(y) − log π_ref(y)), every variant is a function of the
/// log-ratio difference
/// <code>h = (log π(c) − log π(r)) − (log π_ref(c) − log π_ref(r))</code>
/// and differs in how it penalises h: logistic (DPO), squared toward a target (IPO), noise-corrected (robust), or a
/// reference-free, length-normalised margin (SimPO).
/// </summary>
public static class DpoLoss
{
    public static DpoLossOutput Compute(DpoLossType type, DpoLossInputs inputs, double beta, double labelSmoothing = 0,
        double simpoGamma = 0.5) => type switch
    {
        DpoLossType.Sigmoid => Sigmoid(inputs, beta, labelSmoothing),
        DpoLossType.Ipo => Ipo(inputs, beta),
        DpoLossType.Robust => Robust(inputs, beta, labelSmoothing),
        DpoLossType.Simpo => Simpo(inputs, beta, simpoGamma, labelSmoothing),
        DpoLossType.Orpo => OrpoLoss.OddsRatio(inputs, beta),
        DpoLossType.Kto => throw new ArgumentException("dpo.loss_type kto is not pairwise: its loss is KtoLoss.Compute, on labelled single completions"),
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "dpo.loss_type must be sigmoid, ipo, robust, simpo, orpo or kto"),
    };

    /// <summary>
    /// RPO's extra term (Pang et al. 2024, "Iterative Reasoning Preference Optimization"; TRL rpo_alpha): the chosen
    /// completions' negative log-likelihood per token, over the whole batch as TRL's cross-entropy averages it:
    /// <code>nll = −Σ_b log π(c_b) / Σ_b |c_b|</code>
    /// The learner adds α·nll to any variant's loss. Why: the pairwise losses only widen the gap, and on reasoning
    /// tasks both log π(c) and log π(r) tend to fall, taking greedy accuracy down with them; the NLL term holds the
    /// chosen answers up.
    /// </summary>
    /// <param name="globalChosenTokens">When the pairs are one rank's shard of a data-parallel batch: Σ|c| over the
    /// whole batch, so the ranks' terms sum to the whole batch's (null: the pairs are the whole batch).</param>
    public static Tensor ChosenNll(Tensor chosenLogp, Tensor chosenLength, double? globalChosenTokens = null)
    {
        if (chosenLogp.shape.Length != 1 || !chosenLogp.shape.SequenceEqual(chosenLength.shape))
            throw new ArgumentException($"chosen log-probs [{string.Join(", ", chosenLogp.shape)}] and lengths [{string.Join(", ", chosenLength.shape)}] must both be [B]");
        return globalChosenTokens is { } tokens ? -chosenLogp.sum() / tokens : -chosenLogp.sum() / chosenLength.sum();
    }

    /// <summary>
    /// DPO, and cDPO when ε &gt; 0 (the label is taken to be flipped with probability ε):
    /// <code>loss = −(1−ε)·log σ(β·h) − ε·log σ(−β·h)</code>
    /// On sums of token log-probs. Rewards: β·(log π(c) − log π_ref(c)), likewise for r.
    /// </summary>
    public static DpoLossOutput Sigmoid(DpoLossInputs inputs, double beta, double labelSmoothing = 0)
    {
        Validate(inputs, beta, labelSmoothing, simpoGamma: 0, needsReference: true);
        using var scope = NewDisposeScope();
        var (chosen, rejected) = (inputs.PolicyChosen - inputs.ReferenceChosen!, inputs.PolicyRejected - inputs.ReferenceRejected!);
        var betaH = beta * (chosen - rejected);
        var losses = -(1 - labelSmoothing) * nn.functional.logsigmoid(betaH) - labelSmoothing * nn.functional.logsigmoid(-betaH);
        return Output(losses, beta * chosen, beta * rejected);
    }

    /// <summary>
    /// Robust DPO: an unbiased estimate of the clean-label DPO loss when labels are flipped with probability ε
    /// (note the + on the second term, unlike cDPO, and the 1/(1−2ε) debiasing factor):
    /// <code>loss = (−(1−ε)·log σ(β·h) + ε·log σ(−β·h)) / (1 − 2ε)</code>
    /// ε = 0 is plain DPO. Rewards as DPO.
    /// </summary>
    public static DpoLossOutput Robust(DpoLossInputs inputs, double beta, double labelSmoothing = 0)
    {
        Validate(inputs, beta, labelSmoothing, simpoGamma: 0, needsReference: true);
        using var scope = NewDisposeScope();
        var (chosen, rejected) = (inputs.PolicyChosen - inputs.ReferenceChosen!, inputs.PolicyRejected - inputs.ReferenceRejected!);
        var betaH = beta * (chosen - rejected);
        var losses = (-(1 - labelSmoothing) * nn.functional.logsigmoid(betaH) + labelSmoothing * nn.functional.logsigmoid(-betaH))
            / (1 - 2 * labelSmoothing);
        return Output(losses, beta * chosen, beta * rejected);
    }

    /// <summary>
    /// IPO: regresses h onto 1/(2β) (β is the paper's τ), so the log-ratio gap stays bounded instead of being pushed
    /// to infinity as DPO's logistic loss does on deterministic preferences. TRL computes IPO on length-AVERAGED
    /// log-probs (each of the four terms divided by its completion's token count), and so do the rewards:
    /// <code>h = (π(c)/|c| − π(r)/|r|) − (π_ref(c)/|c| − π_ref(r)/|r|);  loss = (h − 1/(2β))²</code>
    /// Label smoothing does not apply.
    /// </summary>
    public static DpoLossOutput Ipo(DpoLossInputs inputs, double beta)
    {
        Validate(inputs, beta, labelSmoothing: 0, simpoGamma: 0, needsReference: true);
        using var scope = NewDisposeScope();
        var chosen = (inputs.PolicyChosen - inputs.ReferenceChosen!) / inputs.ChosenLength;
        var rejected = (inputs.PolicyRejected - inputs.ReferenceRejected!) / inputs.RejectedLength;
        var losses = (chosen - rejected - 1 / (2 * beta)).square();
        return Output(losses, beta * chosen, beta * rejected);
    }

    /// <summary>
    /// SimPO: no reference model; the implicit reward is the length-averaged log-prob, and the preferred completion
    /// must win by a target margin γ (TRL CPOTrainer: logits − γ/β, then the sigmoid loss with label smoothing):
    /// <code>h = π(c)/|c| − π(r)/|r|;  loss = −(1−ε)·log σ(β·h − γ) − ε·log σ(−(β·h − γ))</code>
    /// Rewards: β·π(c)/|c| and β·π(r)/|r|. (CPOTrainer's optional NLL term, cpo_alpha, is not part of SimPO.)
    /// </summary>
    public static DpoLossOutput Simpo(DpoLossInputs inputs, double beta, double simpoGamma = 0.5, double labelSmoothing = 0)
    {
        Validate(inputs, beta, labelSmoothing, simpoGamma, needsReference: false);
        using var scope = NewDisposeScope();
        var chosen = inputs.PolicyChosen / inputs.ChosenLength;
        var rejected = inputs.PolicyRejected / inputs.RejectedLength;
        var logits = beta * (chosen - rejected) - simpoGamma;
        var losses = -(1 - labelSmoothing) * nn.functional.logsigmoid(logits) - labelSmoothing * nn.functional.logsigmoid(-logits);
        return Output(losses, beta * chosen, beta * rejected);
    }

    /// <summary>Every invalid hyperparameter, one message each naming its TRL field, e.g. "dpo.beta must be &gt; 0 (got 0)".</summary>
    public static IReadOnlyList<string> Errors(double beta, double labelSmoothing, double simpoGamma)
    {
        var errors = new List<string>();
        void Check(bool ok, string field, string rule, double value)
        {
            if (!ok) errors.Add(string.Create(CultureInfo.InvariantCulture, $"dpo.{field} {rule} (got {value})"));
        }
        Check(beta > 0 && double.IsFinite(beta), "beta", "must be > 0", beta);
        // ε = 0.5 makes the label pure noise (and robust DPO divides by 1 − 2ε = 0).
        Check(labelSmoothing is >= 0 and < 0.5, "label_smoothing", "must be in [0, 0.5)", labelSmoothing);
        Check(simpoGamma >= 0 && double.IsFinite(simpoGamma), "simpo_gamma", "must be >= 0", simpoGamma);
        return errors;
    }

    internal static void Validate(DpoLossInputs i, double beta, double labelSmoothing, double simpoGamma, bool needsReference)
    {
        var errors = Errors(beta, labelSmoothing, simpoGamma);
        if (errors.Count > 0) throw new ArgumentException(string.Join("; ", errors));
        long[] shape = i.PolicyChosen.shape;
        string Show(long[] s) => "[" + string.Join(", ", s) + "]";
        if (shape.Length != 1) throw new ArgumentException($"policy chosen log-probs must be [B] (got {Show(shape)})");
        void Same(Tensor? t, string name)
        {
            if (t is not null && !t.shape.SequenceEqual(shape))
                throw new ArgumentException($"{name} must be [B] = {Show(shape)} (got {Show(t.shape)})");
        }
        Same(i.PolicyRejected, "policy rejected log-probs");
        Same(i.ReferenceChosen, "reference chosen log-probs");
        Same(i.ReferenceRejected, "reference rejected log-probs");
        Same(i.ChosenLength, "chosen lengths");
        Same(i.RejectedLength, "rejected lengths");
        if (needsReference && (i.ReferenceChosen is null || i.ReferenceRejected is null))
            throw new ArgumentException("this dpo.loss_type needs reference log-probs (only simpo and orpo are reference-free)");
    }

    /// <summary>Mean loss (kept in the caller's scope) and the detached reward metrics.</summary>
    internal static DpoLossOutput Output(Tensor losses, Tensor chosenRewards, Tensor rejectedRewards)
    {
        var loss = losses.mean();
        using var noGrad = no_grad();
        var (chosen, rejected) = (chosenRewards.detach(), rejectedRewards.detach());
        var output = new DpoLossOutput(loss,
            RewardsChosen: chosen.mean().ToDouble(),
            RewardsRejected: rejected.mean().ToDouble(),
            Margin: (chosen - rejected).mean().ToDouble(),
            Accuracy: chosen.gt(rejected).to(ScalarType.Float32).mean().ToDouble());
        output.Loss.MoveToOuterDisposeScope();
        return output;
    }
}
