using RlhfActors.Training.Rl;
using TorchSharp;
using static TorchSharp.torch;

namespace RlhfActors.Tests.Rl;

public sealed class AdvantagesAndKlTests
{
    static float[] Values(Tensor t) => t.to_type(ScalarType.Float32).data<float>().ToArray();

    static void Near(double[] expected, Tensor actual, double tolerance = 1e-5)
    {
        var got = Values(actual);
        Assert.Equal(expected.Length, got.Length);
        for (int i = 0; i < expected.Length; i++) Assert.True(Math.Abs(expected[i] - got[i]) <= tolerance, $"[{i}]: expected {expected[i]}, got {got[i]}");
    }

    // Two groups of G = 3, then a group whose rewards are all equal.
    // group 0: [1, 2, 3]  mean 2, deviations [−1, 0, 1], unbiased var = (1 + 0 + 1)/2 = 1,   std = 1
    // group 1: [0, 0, 3]  mean 1, deviations [−1, −1, 2], unbiased var = (1 + 1 + 4)/2 = 3, std = √3
    // group 2: [5, 5, 5]  mean 5, deviations 0, std 0 → advantage 0 (ε keeps it from 0/0)
    static Tensor Rewards() => tensor(new float[] { 1, 2, 3, 0, 0, 3, 5, 5, 5 });

    [Fact]
    public void Group_relative_divides_by_the_unbiased_group_std_plus_eps()
    {
        using var scope = NewDisposeScope();
        double s0 = 1 + 1e-4, s1 = Math.Sqrt(3) + 1e-4;
        Near([-1 / s0, 0, 1 / s0, -1 / s1, -1 / s1, 2 / s1, 0, 0, 0], Advantages.GroupRelative(Rewards(), 3));
    }

    [Fact]
    public void Group_relative_without_std_is_dr_grpo_centring_only()
    {
        using var scope = NewDisposeScope();
        Near([-1, 0, 1, -1, -1, 2, 0, 0, 0], Advantages.GroupRelative(Rewards(), 3, scaleByStd: false));
    }

    [Fact]
    public void Groups_with_equal_rewards_carry_no_signal()
    {
        using var scope = NewDisposeScope();
        Assert.Equal([true, true, false], Advantages.GroupsWithSignal(Rewards(), 3));
    }

    [Fact]
    public void Rloo_subtracts_the_mean_of_the_other_completions()
    {
        using var scope = NewDisposeScope();
        // group 0: 1 − (2+3)/2 = −1.5, 2 − (1+3)/2 = 0, 3 − (1+2)/2 = 1.5
        // group 1: 0 − (0+3)/2 = −1.5, −1.5, 3 − (0+0)/2 = 3     (= G/(G−1)·(r − mean) = 1.5·[−1, −1, 2])
        Near([-1.5, 0, 1.5, -1.5, -1.5, 3, 0, 0, 0], Advantages.Rloo(Rewards(), 3));
        Assert.Throws<ArgumentException>(() => Advantages.Rloo(tensor(new float[] { 1, 2 }), 1));
        Assert.Throws<ArgumentException>(() => Advantages.Rloo(tensor(new float[] { 1, 2, 3 }), 2));   // 3 not a multiple of 2
    }

    [Fact]
    public void Reinforce_plus_plus_normalises_over_the_whole_batch()
    {
        using var scope = NewDisposeScope();
        // [1, 2, 3, 6]: mean 3, deviations [−2, −1, 0, 3], unbiased var = (4 + 1 + 0 + 9)/3 = 14/3
        double std = Math.Sqrt(14.0 / 3) + 1e-8;
        Near([-2 / std, -1 / std, 0, 3 / std], Advantages.ReinforcePlusPlus(tensor(new float[] { 1, 2, 3, 6 })));
    }

    [Fact]
    public void Compute_dispatches_on_the_options_estimator_and_per_token_broadcasts_over_the_mask()
    {
        using var scope = NewDisposeScope();
        Near([-1, 0, 1, -1, -1, 2, 0, 0, 0], Advantages.Compute(Rewards(), new GrpoOptions { NumGenerations = 3, ScaleRewards = false }));
        Near([-1.5, 0, 1.5, -1.5, -1.5, 3, 0, 0, 0],
            Advantages.Compute(Rewards(), new GrpoOptions { NumGenerations = 3, AdvantageEstimator = AdvantageEstimator.Rloo }));
        var perToken = Advantages.PerToken(tensor(new float[] { 2, -1 }), tensor(new float[] { 1, 1, 1, 1, 1, 0 }, 2, 3));
        Assert.Equal(new long[] { 2, 3 }, perToken.shape);
        Near([2, 2, 2, -1, -1, 0], perToken);
    }

    [Fact]
    public void Kl_estimators_match_schulmans_formulas()
    {
        using var scope = NewDisposeScope();
        double ln2 = Math.Log(2);
        // Column 0: logp = ln ½, ref = ln ¼ → log r = ref − logp = −ln 2, r = ½.
        // Column 1: logp = ln ¼, ref = ln ½ → log r = +ln 2, r = 2.
        // Column 2: logp = ref → every estimator is 0.
        var logp = tensor(new[] { (float)Math.Log(0.5), (float)Math.Log(0.25), -1.3f }).unsqueeze(0);
        var refLogp = tensor(new[] { (float)Math.Log(0.25), (float)Math.Log(0.5), -1.3f }).unsqueeze(0);
        // k1 = logp − ref = −log r
        Near([ln2, -ln2, 0], KlEstimators.K1(logp, refLogp));
        // k2 = ½ (log r)² = ½ ln²2 = 0.240227 both ways
        Near([0.5 * ln2 * ln2, 0.5 * ln2 * ln2, 0], KlEstimators.K2(logp, refLogp));
        // k3 = r − log r − 1:  ½ + ln 2 − 1 = 0.193147;  2 − ln 2 − 1 = 0.306853
        Near([0.5 + ln2 - 1, 2 - ln2 - 1, 0], KlEstimators.K3(logp, refLogp));
        Near([0.5 + ln2 - 1, 2 - ln2 - 1, 0], KlEstimators.PerToken(KlEstimator.K3, logp, refLogp));
    }

    [Fact]
    public void K3_is_never_negative_where_k1_is()
    {
        using var scope = NewDisposeScope();
        var logp = randn(64, 16);
        var refLogp = randn(64, 16);
        Assert.True(KlEstimators.K3(logp, refLogp).min().ToSingle() >= 0);
        Assert.True(KlEstimators.K1(logp, refLogp).min().ToSingle() < 0);
    }
}
