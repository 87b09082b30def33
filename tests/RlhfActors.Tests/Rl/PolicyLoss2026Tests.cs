using RlhfActors.Training.Rl;
using TorchSharp;
using static TorchSharp.torch;

namespace RlhfActors.Tests.Rl;

/// <summary>
/// GSPO, CISPO, the sampler–learner mismatch correction, off-policy sequence masking and GDPO's normalize_then_sum,
/// each against values worked out by hand (in plain double arithmetic here, independently of the tensor code). The
/// batch is <see cref="PolicyLossTests"/>': old_logp = 0, ratios r = [1.5, 1.0, 0.9 | 0.5, 1.1, (pad) 2.0],
/// A = [+1, −1], mask [1 1 1 | 1 1 0].
/// </summary>
public sealed class PolicyLoss2026Tests
{
    static readonly double[] Ratios = [1.5, 1.0, 0.9, 0.5, 1.1, 2.0];

    static Tensor Logp() => tensor(Ratios.Select(r => (float)Math.Log(r)).ToArray(), 2, 3).requires_grad_();
    static Tensor Mask() => tensor(new float[] { 1, 1, 1, 1, 1, 0 }, 2, 3);
    static Tensor Adv() => tensor(new float[] { 1, -1 });

    static PolicyLossInputs Inputs(Tensor logp, LossAggregation aggregation) =>
        new(logp, zeros(2, 3), Adv(), Mask()) { Aggregation = aggregation, EpsilonLow = 0.2, EpsilonHigh = 0.2 };

    static void Near(double[] expected, Tensor actual, double tolerance = 1e-5)
    {
        var got = actual.to(ScalarType.Float32).data<float>().ToArray();
        Assert.Equal(expected.Length, got.Length);
        for (int i = 0; i < expected.Length; i++) Assert.True(Math.Abs(expected[i] - got[i]) <= tolerance, $"[{i}]: expected {expected[i]}, got {got[i]}");
    }

    // GSPO: s_0 = (1.5·1.0·0.9)^(1/3) = 1.35^(1/3) = 1.105209 (inside [0.8, 1.2]); s_1 = (0.5·1.1)^(1/2) = 0.741620
    // (< 0.8 with A < 0: the clipped branch, loss +0.8, no gradient).
    static readonly double S0 = Math.Pow(1.5 * 1.0 * 0.9, 1.0 / 3), S1 = Math.Sqrt(0.5 * 1.1);

    [Fact]
    public void Gspo_clips_one_length_normalised_ratio_per_sequence()
    {
        Assert.Equal(1.105209, S0, 5);
        using var scope = NewDisposeScope();
        var logp = Logp();
        var output = PolicyLoss.Compute(Inputs(logp, LossAggregation.Grpo) with { Level = ImportanceSamplingLevel.Sequence });
        // grpo aggregation: a sequence's value is its loss: (−s_0 + 0.8)/2
        Assert.Equal((-S0 + 0.8) / 2, output.Loss.ToDouble(), 5);
        // the whole of sequence 1 is clipped (2 of 5 tokens), sequence 0 is not; mean ratio over tokens (3·s_0 + 2·s_1)/5
        Assert.Equal(0.4, output.ClipFractionLow, 6);
        Assert.Equal(0.0, output.ClipFractionHigh, 6);
        Assert.Equal((3 * S0 + 2 * S1) / 5, output.MeanRatio, 5);
        output.Loss.backward();
        // ∂/∂logp_t of −s_0·A: every token of sequence 0 gets −s_0/|y_0|, times the grpo weight 1/2; sequence 1 is clipped.
        Near([-S0 / 6, -S0 / 6, -S0 / 6, 0, 0, 0], logp.grad!);
    }

    [Fact]
    public void Gspo_under_dapo_weighs_each_sequence_by_its_tokens()
    {
        using var scope = NewDisposeScope();
        var output = PolicyLoss.Compute(Inputs(Logp(), LossAggregation.Dapo) with { Level = ImportanceSamplingLevel.Sequence });
        Assert.Equal((3 * -S0 + 2 * 0.8) / 5, output.Loss.ToDouble(), 5);
    }

    [Fact]
    public void On_policy_gspo_has_the_gradient_of_grpo()
    {
        // old = logp: s_i = 1 and ∂s_i/∂logp_t = 1/|y_i| — the grpo aggregation of the token loss, token for token.
        using var scope = NewDisposeScope();
        var (a, b) = (Logp(), Logp());
        PolicyLoss.Compute(new PolicyLossInputs(a, null, Adv(), Mask()) { Aggregation = LossAggregation.Grpo, Level = ImportanceSamplingLevel.Sequence }).Loss.backward();
        PolicyLoss.Compute(new PolicyLossInputs(b, null, Adv(), Mask()) { Aggregation = LossAggregation.Grpo }).Loss.backward();
        Near(b.grad!.data<float>().ToArray().Select(x => (double)x).ToArray(), a.grad!);
    }

    [Fact]
    public void Cispo_caps_the_detached_weight_and_drops_no_token()
    {
        const double cap = 1.2;
        // loss_t = −min(r_t, cap)·A·log r_t (old = 0, so logp = log r); dapo: Σ over the 5 masked tokens / 5.
        double[] adv = [1, 1, 1, -1, -1];
        double expected = Enumerable.Range(0, 5).Sum(t => -Math.Min(Ratios[t], cap) * adv[t] * Math.Log(Ratios[t])) / 5;
        Assert.Equal(-0.126693, expected, 5);
        using var scope = NewDisposeScope();
        var logp = Logp();
        var output = PolicyLoss.Compute(Inputs(logp, LossAggregation.Dapo) with { Objective = PolicyObjective.Cispo, CispoCap = cap });
        Assert.Equal(expected, output.Loss.ToDouble(), 5);
        // Only token 0 (r = 1.5 > 1.2, A > 0) had its weight capped; CISPO has no lower clip.
        Assert.Equal(0.2, output.ClipFractionHigh, 6);
        Assert.Equal(0.0, output.ClipFractionLow, 6);
        output.Loss.backward();
        // The weight is a constant: ∂/∂logp_t = −min(r_t, cap)·A_t/5. Token 0 keeps a gradient (PPO's clip gives it 0,
        // and token 3 too, which PPO clips on the low side).
        Near([-1.2 / 5, -1.0 / 5, -0.9 / 5, 0.5 / 5, 1.1 / 5, 0], logp.grad!);
    }

    [Fact]
    public void A_sequence_mask_and_sequence_weights_scale_whole_sequences()
    {
        using var scope = NewDisposeScope();
        // dapo token losses: seq 0 [−1.2, −1.0, −0.9], seq 1 [0.8, 1.1] (PolicyLossTests); drop seq 1, weigh seq 0 by 0.5.
        var output = PolicyLoss.Compute(Inputs(Logp(), LossAggregation.Dapo) with
        {
            SequenceMask = tensor(new float[] { 1, 0 }, 2, 1),
            IsWeights = tensor(new float[] { 0.5f, 3 }, 2, 1),
        });
        Assert.Equal(0.5 * (-1.2 - 1.0 - 0.9) / 5, output.Loss.ToDouble(), 5);
        Assert.Throws<ArgumentException>(() => PolicyLoss.Compute(Inputs(Logp(), LossAggregation.Dapo) with { SequenceMask = ones(2, 3) }));
    }

    // Mismatch: behaviour = 0, learner old log-probs = Δ, so ρ_t = e^Δ_t; the padding's Δ = 9 must count nowhere.
    static readonly double[] Delta = [0.1, -0.2, 0.5, -1.5, 0.3];
    static Tensor Old() => tensor(new float[] { 0.1f, -0.2f, 0.5f, -1.5f, 0.3f, 9f }, 2, 3);

    [Theory]
    // token ratios e^Δ = [1.105171, 0.818731, 1.648721 | 0.223130, 1.349859]; bounds [0.5, 1.5]: tokens 2 and 3 are out.
    [InlineData(MismatchMode.TokenTruncate, new[] { 1.105171, 0.818731, 1.5, 0.5, 1.349859, 1.0 }, 0.4)]
    [InlineData(MismatchMode.TokenMask, new[] { 1.105171, 0.818731, 0, 0, 1.349859, 1.0 }, 0.4)]
    // sequence ratios e^ΣΔ: seq 0 e^0.4 = 1.491825 (in), seq 1 e^−1.2 = 0.301194 (out: 0.5 or 0).
    [InlineData(MismatchMode.SequenceTruncate, new[] { 1.491825, 0.5 }, 0.5)]
    [InlineData(MismatchMode.SequenceMask, new[] { 1.491825, 0 }, 0.5)]
    public void The_mismatch_correction_truncates_or_masks_tokens_or_sequences(MismatchMode mode, double[] weights, double corrected)
    {
        using var scope = NewDisposeScope();
        var result = SamplerMismatch.Correct(zeros(2, 3), Old(), Mask(), mode, clipMin: 0.5, clipMax: 1.5);
        Near(weights, result.Weights);
        Assert.Equal(corrected, result.Figures.CorrectedFraction, 6);
        Assert.Equal(Delta.Select(Math.Abs).Average(), result.Figures.MeanAbsLogpDiff, 5);   // 0.52
        Assert.Equal(1.5, result.Figures.MaxAbsLogpDiff, 5);
        // k3 of KL(μ ‖ π): mean of e^Δ − 1 − Δ over the masked tokens.
        Assert.Equal(Delta.Select(d => Math.Exp(d) - 1 - d).Average(), result.Figures.Kl, 5);
        Assert.False(result.Weights.requires_grad);
    }

    [Fact]
    public void Equal_log_probs_need_no_correction()
    {
        using var scope = NewDisposeScope();
        var result = SamplerMismatch.Correct(Old(), Old(), Mask(), MismatchMode.SequenceMask, null, 3.0);
        Near([1, 1], result.Weights);
        Assert.Equal(0, result.Figures.CorrectedFraction);
        Assert.Equal(0, result.Figures.MeanAbsLogpDiff);
        Assert.Equal(0, result.Figures.Kl, 9);
        Assert.Equal(1, result.Figures.MeanRatio, 9);
    }

    [Fact]
    public void Off_policy_masking_drops_only_drifted_sequences_with_a_negative_advantage()
    {
        using var scope = NewDisposeScope();
        // behaviour − logp per token: seq 0 [2, 2] (drifted, but A > 0: kept), seq 1 [0.4, 0.8] mean 0.6 > 0.5 with A < 0
        // (dropped), seq 2 [0.2, 0.2] mean 0.2 ≤ 0.5 (kept), seq 3 [1.0, (pad) 50] mean 1.0 > 0.5, A < 0 (dropped; pad ignored).
        var logp = zeros(4, 2);
        var behaviour = tensor(new float[] { 2, 2, 0.4f, 0.8f, 0.2f, 0.2f, 1, 50 }, 4, 2);
        var mask = tensor(new float[] { 1, 1, 1, 1, 1, 1, 1, 0 }, 4, 2);
        var keep = OffPolicySequenceMask.Compute(tensor(new float[] { 1, -1, -1, -0.5f }), logp, behaviour, mask, threshold: 0.5);
        Near([1, 0, 1, 0], keep);
    }

    [Fact]
    public void Normalize_then_sum_normalises_each_term_in_its_group_before_the_weighted_sum()
    {
        // Two groups of G = 2; term 1 scores 0/1, term 2 scores 0/10 (a large-scale term), weights [1, 0.5].
        double[][] rows = [[1, 0], [0, 10], [1, 5], [1, 5]];
        double[] weights = [1, 0.5];
        const double eps = 1e-4;
        // By hand: per group and term, (r − mean)/(unbiased std + ε); then Σ_k w_k·r̂; then over the batch.
        double[] s = new double[4];
        for (int g = 0; g < 2; g++)
            for (int k = 0; k < 2; k++)
            {
                double a = rows[2 * g][k], b = rows[2 * g + 1][k], mean = (a + b) / 2;
                double std = Math.Sqrt(((a - mean) * (a - mean) + (b - mean) * (b - mean)) / 1);
                s[2 * g] += weights[k] * (a - mean) / (std + eps);
                s[2 * g + 1] += weights[k] * (b - mean) / (std + eps);
            }
        double sMean = s.Average(), sStd = Math.Sqrt(s.Sum(x => (x - sMean) * (x - sMean)) / 3);
        var expected = s.Select(x => (x - sMean) / (sStd + eps)).ToArray();
        // The 0/10 term does not swamp the correct answer: row 0 (right, no bonus) ends above row 1 (wrong, bonus 10),
        // as its normalised terms cancel at weight 1 vs 0.5 — unlike the plain weighted sum 1 vs 5.
        Assert.True(expected[0] > expected[1]);
        using var scope = NewDisposeScope();
        var table = tensor(rows.SelectMany(r => r.Select(x => (float)x)).ToArray(), 4, 2);
        Near(expected, Advantages.NormalizeThenSum(table, weights, groupSize: 2), 1e-4);
        Assert.Throws<ArgumentException>(() => Advantages.NormalizeThenSum(table, [1.0], 2));
    }
}
