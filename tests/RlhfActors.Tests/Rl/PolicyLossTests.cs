using RlhfActors.Training.Rl;
using TorchSharp;
using static TorchSharp.torch;

namespace RlhfActors.Tests.Rl;

/// <summary>
/// One hand-computed case for every aggregation. B = 2 sequences, T = 3, old_logp = 0, so ratio = exp(logp):
/// <code>
/// seq 0, A = +1, 3 tokens:  ratio 1.5 (> 1.2: upper clip taken, loss −1.2), 1.0 (−1.0), 0.9 (−0.9)   Σ = −3.1
/// seq 1, A = −1, 2 tokens:  ratio 0.5 (< 0.8: lower clip taken, loss +0.8), 1.1 (+1.1)               Σ = +1.9
///                           padding: ratio 2.0 (would give +2.0; must not count)
/// loss_t = −min(r·A, clip(r, 0.8, 1.2)·A)
/// grpo:    (−3.1/3 + 1.9/2)/2 = (−1.033333 + 0.95)/2 = −0.0416667
/// dapo:    (−3.1 + 1.9)/5     = −0.24
/// dr_grpo: (−3.1 + 1.9)/(2·4) = −0.15      (max_completion_length L = 4, not the batch's longest 3)
/// </code>
/// Gradient: an unclipped token gives ∂loss_t/∂logp_t = −A·r (d r/d logp = r); a clipped one gives 0;
/// each then scaled by the aggregation's weight of that token.
/// </summary>
public sealed class PolicyLossTests
{
    const int L = 4;
    static readonly double[] Ratios = [1.5, 1.0, 0.9, 0.5, 1.1, 2.0];

    static Tensor Logp() => tensor(Ratios.Select(r => (float)Math.Log(r)).ToArray(), 2, 3).requires_grad_();
    static Tensor Mask() => tensor(new float[] { 1, 1, 1, 1, 1, 0 }, 2, 3);
    static Tensor Adv() => tensor(new float[] { 1, -1 });

    static PolicyLossInputs Inputs(Tensor logp, LossAggregation aggregation, double beta = 0) =>
        new(logp, zeros(2, 3), Adv(), Mask())
        {
            Aggregation = aggregation, MaxCompletionLength = L, EpsilonLow = 0.2, EpsilonHigh = 0.2,
            Beta = beta, RefLogp = beta > 0 ? zeros(2, 3) : null,
        };

    static void Near(double[] expected, Tensor actual, double tolerance = 1e-5)
    {
        var got = actual.data<float>().ToArray();
        Assert.Equal(expected.Length, got.Length);
        for (int i = 0; i < expected.Length; i++) Assert.True(Math.Abs(expected[i] - got[i]) <= tolerance, $"[{i}]: expected {expected[i]}, got {got[i]}");
    }

    [Theory]
    [InlineData(LossAggregation.Grpo, (-3.1 / 3 + 1.9 / 2) / 2)]
    [InlineData(LossAggregation.Dapo, -1.2 / 5)]
    [InlineData(LossAggregation.DrGrpo, -1.2 / (2 * L))]
    public void Clipped_surrogate_aggregates_as_each_variant_says(LossAggregation aggregation, double expected)
    {
        using var scope = NewDisposeScope();
        var output = PolicyLoss.Compute(Inputs(Logp(), aggregation));
        Assert.Equal(expected, output.Loss.ToDouble(), 5);
        // Clipped branch taken on 1 of 5 masked tokens on each side; (1.5 + 1 + 0.9 + 0.5 + 1.1)/5 = 1.0.
        Assert.Equal(0.2, output.ClipFractionLow, 6);
        Assert.Equal(0.2, output.ClipFractionHigh, 6);
        Assert.Equal(0.4, output.ClipFraction, 6);
        Assert.Equal(1.0, output.MeanRatio, 5);
        Assert.Null(output.MeanKl);
    }

    [Theory]
    // dapo: each masked token weighs 1/5: seq 0 → [0 (clipped), −1·1.0/5, −1·0.9/5], seq 1 → [0 (clipped), +1.1/5, 0 (pad)]
    [InlineData(LossAggregation.Dapo, new[] { 0, -0.2, -0.18, 0, 0.22, 0 })]
    // grpo: a token of seq 0 weighs 1/(3·2), of seq 1 1/(2·2): [0, −1/6, −0.9/6], [0, 1.1/4, 0]
    [InlineData(LossAggregation.Grpo, new[] { 0, -1.0 / 6, -0.15, 0, 0.275, 0 })]
    // dr_grpo: every token weighs 1/(B·L) = 1/8: [0, −0.125, −0.1125], [0, 0.1375, 0]
    [InlineData(LossAggregation.DrGrpo, new[] { 0, -0.125, -0.1125, 0, 0.1375, 0 })]
    public void Autograd_gradient_matches_the_hand_derivative(LossAggregation aggregation, double[] expected)
    {
        using var scope = NewDisposeScope();
        var logp = Logp();
        PolicyLoss.Compute(Inputs(logp, aggregation)).Loss.backward();
        Near(expected, logp.grad!);
    }

    // k3 with ref_logp = 0: log r = −logp, so k3 = 1/ratio + ln ratio − 1 per token.
    static double K3(double ratio) => 1 / ratio + Math.Log(ratio) - 1;

    [Fact]
    public void Beta_adds_beta_times_the_kl_aggregated_the_same_way()
    {
        const double beta = 0.1;
        double[] k = Ratios.Select(K3).ToArray();   // [0.072132, 0, 0.005750, 0.306853, 0.004401, (pad) 0.193147]
        double sum = k[0] + k[1] + k[2] + k[3] + k[4];
        var expectedKl = new Dictionary<LossAggregation, double>
        {
            [LossAggregation.Grpo] = ((k[0] + k[1] + k[2]) / 3 + (k[3] + k[4]) / 2) / 2,
            [LossAggregation.Dapo] = sum / 5,
            [LossAggregation.DrGrpo] = sum / (2 * L),
        };
        using var scope = NewDisposeScope();
        foreach (var (aggregation, kl) in expectedKl)
        {
            double without = PolicyLoss.Compute(Inputs(Logp(), aggregation)).Loss.ToDouble();
            var with = PolicyLoss.Compute(Inputs(Logp(), aggregation, beta));
            Assert.Equal(without + beta * kl, with.Loss.ToDouble(), 6);
            Assert.Equal(sum / 5, with.MeanKl!.Value, 6);   // the metric is the token mean whatever the aggregation
        }
    }

    [Fact]
    public void Beta_kl_gradient_is_beta_times_one_minus_one_over_ratio()
    {
        // ∂k3/∂logp = ∂/∂logp [e^(−logp) + logp − 1] = 1 − 1/ratio; dapo weighs each masked token 1/5.
        const double beta = 0.1;
        double G(int i, double surrogate) => surrogate + beta * (1 - 1 / Ratios[i]) / 5;
        using var scope = NewDisposeScope();
        var logp = Logp();
        PolicyLoss.Compute(Inputs(logp, LossAggregation.Dapo, beta)).Loss.backward();
        Near([G(0, 0), G(1, -0.2), G(2, -0.18), G(3, 0), G(4, 0.22), 0], logp.grad!);
    }

    [Fact]
    public void Without_old_logp_the_ratio_is_one_and_the_gradient_is_minus_the_advantage()
    {
        using var scope = NewDisposeScope();
        var logp = Logp();
        var output = PolicyLoss.Compute(new PolicyLossInputs(logp, null, Adv(), Mask()));
        // dapo: −(1 + 1 + 1 − 1 − 1)/5 = −0.2; ∂/∂logp_t = −A_t/5
        Assert.Equal(-0.2, output.Loss.ToDouble(), 6);
        Assert.Equal(1.0, output.MeanRatio, 6);
        Assert.Equal(0.0, output.ClipFraction);
        output.Loss.backward();
        Near([-0.2, -0.2, -0.2, 0.2, 0.2, 0], logp.grad!);
    }

    [Fact]
    public void Importance_weights_scale_the_surrogate_per_token()
    {
        using var scope = NewDisposeScope();
        // weight 2 on every token doubles the dapo loss: 2 · −0.24
        var output = PolicyLoss.Compute(Inputs(Logp(), LossAggregation.Dapo) with { IsWeights = full(2, 3, 2f) });
        Assert.Equal(-0.48, output.Loss.ToDouble(), 5);
    }

    [Fact]
    public void A_positive_beta_without_reference_log_probs_is_refused()
    {
        using var scope = NewDisposeScope();
        var e = Assert.Throws<ArgumentException>(() => PolicyLoss.Compute(Inputs(Logp(), LossAggregation.Dapo) with { Beta = 0.04 }));
        Assert.Contains("ref_logp", e.Message);
        Assert.Throws<ArgumentException>(() => PolicyLoss.Compute(Inputs(Logp(), LossAggregation.DrGrpo) with { MaxCompletionLength = 0 }));
        Assert.Throws<ArgumentException>(() => PolicyLoss.Compute(Inputs(Logp(), LossAggregation.Dapo) with { EpsilonHigh = double.NaN }));
    }

    [Fact]
    public void Only_the_loss_tensor_outlives_the_call()
    {
        using var scope = NewDisposeScope();
        var inputs = Inputs(Logp(), LossAggregation.Grpo, beta: 0.1) with { IsWeights = full(2, 3, 1.5f) };
        var rewards = tensor(new float[] { 1, 0, 0, 1 });
        long live = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        var output = PolicyLoss.Compute(inputs);
        Assert.Equal(live + 1, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        output.Loss.Dispose();
        Advantages.GroupRelative(rewards, 2).Dispose();
        Advantages.Rloo(rewards, 2).Dispose();
        Advantages.ReinforcePlusPlus(rewards).Dispose();
        _ = Advantages.GroupsWithSignal(rewards, 2);
        ImportanceCorrection.TruncatedIs(inputs.Logp, inputs.OldLogp!, 2).Dispose();
        OverlongShaping.MaskTruncated(inputs.CompletionMask, tensor(new[] { false, true })).Dispose();
        KlEstimators.K2(inputs.Logp, inputs.RefLogp!).Dispose();
        Assert.Equal(live + 1, DisposeScopeManager.Statistics.ThreadTotalLiveCount);   // + the bool tensor built for MaskTruncated
    }
}
