using TorchSharp;
using static TorchSharp.torch;

namespace RlhfActors.Training.Preference;

/// <summary>
/// ORPO (Hong et al. 2024, "ORPO: Monolithic Preference Optimization without Reference Model"), as TRL's
/// ORPOTrainer defines it: no reference model, and the SFT loss is part of the objective, so a preference stage can
/// also be the fine-tuning. With a = log π(y|x) / |y|, the length-AVERAGED log-prob (TRL average_log_prob=True), the
/// odds of a completion are p / (1 − p) with p = e^a, and
/// <code>log_odds = (a_c − a_r) − (log(1 − e^{a_c}) − log(1 − e^{a_r}))
/// loss = nll(c) − β · mean_b log σ(log_odds)</code>
/// where nll(c) is the chosen completions' per-token negative log-likelihood over the batch (TRL's cross-entropy on
/// the chosen half, prompt masked: <see cref="DpoLoss.ChosenNll"/>). β is TRL ORPOConfig beta (0.1), the paper's λ.
/// Rewards as TRL logs them: β·a_c and β·a_r.
/// </summary>
public static class OrpoLoss
{
    const double Ln2 = 0.6931471805599453;

    /// <summary>Keeps log(1 − e^a) finite where a model is sure of a completion: in fp32 every token's log-prob can
    /// round to 0, and log(1 − e^0) = −∞ would make the update NaN (TRL has no guard; the shift is far below the
    /// precision of any log-prob that is not exactly 0).</summary>
    const double MaxAverageLogProb = -1e-7;

    /// <summary>The whole ORPO loss of a batch (the formula above): <see cref="OddsRatio"/> plus the chosen NLL, with
    /// TRL's nll_loss in <see cref="DpoLossOutput.Logged"/>. The learner adds the same two terms itself, so that a
    /// data-parallel rank weighs each by its own share (pairs for the odds ratio, chosen tokens for the NLL).</summary>
    public static DpoLossOutput Compute(DpoLossInputs inputs, double beta)
    {
        var oddsRatio = OddsRatio(inputs, beta);
        using var scope = NewDisposeScope();
        var nll = DpoLoss.ChosenNll(inputs.PolicyChosen, inputs.ChosenLength);
        var loss = (nll + oddsRatio.Loss).MoveToOuterDisposeScope();
        var logged = new Dictionary<string, double>(oddsRatio.Logged) { ["nll_loss"] = nll.ToDouble() };
        return oddsRatio with { Loss = loss, Logged = logged };
    }

    /// <summary>
    /// ORPO's preference term alone, per pair, averaged:
    /// <code>−β · log σ(log_odds)</code>
    /// Logged (TRL's names): log_odds_ratio = mean log σ(log_odds), log_odds_chosen = mean log_odds.
    /// </summary>
    public static DpoLossOutput OddsRatio(DpoLossInputs inputs, double beta)
    {
        DpoLoss.Validate(inputs, beta, labelSmoothing: 0, simpoGamma: 0, needsReference: false);
        using var scope = NewDisposeScope();
        var chosen = inputs.PolicyChosen / inputs.ChosenLength;
        var rejected = inputs.PolicyRejected / inputs.RejectedLength;
        var logOdds = (chosen - rejected) - (Log1mExp(chosen) - Log1mExp(rejected));
        var ratio = nn.functional.logsigmoid(logOdds);
        var output = DpoLoss.Output(-beta * ratio, beta * chosen, beta * rejected);
        using var noGrad = no_grad();
        return output with
        {
            Logged = new Dictionary<string, double>
            {
                ["log_odds_ratio"] = ratio.detach().mean().ToDouble(),
                ["log_odds_chosen"] = logOdds.detach().mean().ToDouble(),
            },
        };
    }

    /// <summary>log(1 − eˣ) for x &lt; 0, without cancellation (TRL's log1mexp, branching at −ln 2). Each branch gets
    /// its input clamped to its own range, so the branch not taken has a finite gradient (a where over an infinite
    /// one would still make the gradient NaN).</summary>
    static Tensor Log1mExp(Tensor x)
    {
        var far = x.clamp_max(-Ln2);
        var near = x.clamp(-Ln2, MaxAverageLogProb);
        return where(x.lt(-Ln2), far.exp().neg().log1p(), near.expm1().neg().log());
    }
}
