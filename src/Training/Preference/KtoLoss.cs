using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace RlhfActors.Training.Preference;

/// <summary>
/// Sequence log-probs of a KTO batch, all [B] (sums over each completion's tokens, eos included): example i's own
/// completion y_i and its KL completion y'_i (another example's completion after the same prompt x_i, see
/// <see cref="KtoBatch"/>), under the policy and the reference; <see cref="Desirable"/> is the label (bool [B]).
/// </summary>
public sealed record KtoLossInputs(Tensor Policy, Tensor Reference, Tensor PolicyKl, Tensor ReferenceKl, Tensor Desirable);

/// <summary>
/// KTO (Ethayarajh et al. 2024, "KTO: Model Alignment as Prospect Theoretic Optimization"), as TRL's
/// KTOTrainer.kto_loss defines it. Each example is one completion labelled desirable or undesirable, with no pair; the
/// implicit reward r = log π(y|x) − log π_ref(y|x) is compared with a reference point z0, the batch's estimate of
/// KL(π ‖ π_ref) from MISMATCHED prompt / completion pairs, clamped at 0 and detached (no gradient flows through it):
/// <code>z0 = max(0, mean_i (log π(y'_i|x_i) − log π_ref(y'_i|x_i)))
/// desirable:   w_d · (1 − σ(β·(r − z0)))
/// undesirable: w_u · (1 − σ(β·(z0 − r)))
/// loss = mean over the batch</code>
/// Why z0: a desirable answer is pushed up only as far as it beats how far the policy has drifted in general, so the
/// loss cannot be met by raising every completion's likelihood. w_d, w_u are TRL desirable_weight /
/// undesirable_weight (1.0): with unbalanced data TRL suggests w_d·n_d / (w_u·n_u) in [1, 4/3].
/// Rewards as TRL logs them: β·r, rewards/chosen over the desirable examples, rewards/rejected over the undesirable,
/// margins the difference of the two means (NaN where a batch holds no example of a label); kl = z0. There is no pair
/// to be accurate about, so <see cref="DpoLossOutput.Accuracy"/> is NaN.
/// </summary>
public static class KtoLoss
{
    public static DpoLossOutput Compute(KtoLossInputs inputs, double beta, double desirableWeight = 1.0, double undesirableWeight = 1.0)
    {
        var errors = Errors(beta, desirableWeight, undesirableWeight);
        if (errors.Count > 0) throw new ArgumentException(string.Join("; ", errors));
        Validate(inputs);
        using var scope = NewDisposeScope();
        var r = inputs.Policy - inputs.Reference;
        Tensor z0;
        using (no_grad()) z0 = (inputs.PolicyKl - inputs.ReferenceKl).mean().clamp_min(0).detach();
        var desirable = desirableWeight * (1 - (beta * (r - z0)).sigmoid());
        var undesirable = undesirableWeight * (1 - (beta * (z0 - r)).sigmoid());
        var loss = where(inputs.Desirable, desirable, undesirable).mean().MoveToOuterDisposeScope();
        using var noGrad = no_grad();
        var rewards = (beta * r).detach();
        double chosen = MeanWhere(rewards, inputs.Desirable), rejected = MeanWhere(rewards, inputs.Desirable.logical_not());
        return new DpoLossOutput(loss, chosen, rejected, chosen - rejected, Accuracy: double.NaN)
        {
            Logged = new Dictionary<string, double> { ["kl"] = z0.ToDouble() },
        };
    }

    /// <summary>Every invalid hyperparameter, one message each naming its field (TRL KTOConfig names under dpo.).</summary>
    public static IReadOnlyList<string> Errors(double beta, double desirableWeight, double undesirableWeight)
    {
        var errors = new List<string>();
        void Check(bool ok, string field, string rule, double value)
        {
            if (!ok) errors.Add(string.Create(CultureInfo.InvariantCulture, $"dpo.{field} {rule} (got {value})"));
        }
        Check(beta > 0 && double.IsFinite(beta), "beta", "must be > 0", beta);
        Check(desirableWeight > 0 && double.IsFinite(desirableWeight), "desirable_weight", "must be > 0", desirableWeight);
        Check(undesirableWeight > 0 && double.IsFinite(undesirableWeight), "undesirable_weight", "must be > 0", undesirableWeight);
        return errors;
    }

    static double MeanWhere(Tensor values, Tensor mask) =>
        mask.any().ToBoolean() ? values.masked_select(mask).mean().ToDouble() : double.NaN;

    static void Validate(KtoLossInputs i)
    {
        long[] shape = i.Policy.shape;
        string Show(long[] s) => "[" + string.Join(", ", s) + "]";
        if (shape.Length != 1) throw new ArgumentException($"policy log-probs must be [B] (got {Show(shape)})");
        // One example has no other completion to mismatch with: z0 would be its own reward (TRL refuses batch size 1).
        if (shape[0] < 2) throw new ArgumentException("a KTO batch needs at least 2 examples: the KL reference point pairs each prompt with another example's completion");
        foreach (var (t, name) in new[] { (i.Reference, "reference log-probs"), (i.PolicyKl, "policy KL log-probs"), (i.ReferenceKl, "reference KL log-probs"), (i.Desirable, "labels") })
            if (!t.shape.SequenceEqual(shape)) throw new ArgumentException($"{name} must be [B] = {Show(shape)} (got {Show(t.shape)})");
        if (i.Desirable.dtype != ScalarType.Bool) throw new ArgumentException($"labels must be bool (got {i.Desirable.dtype})");
    }
}
