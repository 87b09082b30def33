using RlhfActors.Training.Data;
using RlhfActors.Training.Preference;
using TorchSharp;
using static TorchSharp.torch;

namespace RlhfActors.Tests.Preference;

/// <summary>ORPO and KTO against their formulas written out here in doubles (TRL's odds_ratio_loss and kto_loss),
/// never by calling the production code, and a few values worked out by hand.</summary>
public sealed class OrpoKtoLossTests
{
    static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));
    static double LogSigmoid(double x) => -Math.Log(1 + Math.Exp(-x));
    static Tensor Tensor(params double[] values) => tensor(values.Select(v => (float)v).ToArray());

    // Two pairs: sums of token log-probs and token counts. Averages: chosen −0.4 (above −ln 2: TRL's expm1 branch)
    // and −1.5 (below: its log1p branch); rejected −1.25 and −0.25.
    static readonly double[] Pc = { -1.2, -3.0 }, Pr = { -2.5, -1.0 }, Lc = { 3, 2 }, Lr = { 2, 4 };

    static DpoLossInputs Pairs(Tensor? chosen = null) => new(chosen ?? Tensor(Pc), Tensor(Pr), null, null, Tensor(Lc), Tensor(Lr));

    [Theory]
    [InlineData(0.1)]
    [InlineData(0.5)]
    public void Orpo_is_the_chosen_nll_minus_beta_times_the_mean_log_sigmoid_of_the_log_odds_ratio(double beta)
    {
        var logOdds = new double[2];
        for (int i = 0; i < 2; i++)
        {
            double c = Pc[i] / Lc[i], r = Pr[i] / Lr[i];
            logOdds[i] = Math.Log(Math.Exp(c) / (1 - Math.Exp(c))) - Math.Log(Math.Exp(r) / (1 - Math.Exp(r)));
        }
        double nll = -(Pc[0] + Pc[1]) / (Lc[0] + Lc[1]);
        double expected = nll - beta * logOdds.Average(LogSigmoid);

        var output = OrpoLoss.Compute(Pairs(), beta);
        Assert.Equal(expected, output.Loss.ToDouble(), 1e-5);
        Assert.Equal(nll, output.Logged["nll_loss"], 1e-5);
        Assert.Equal(logOdds.Average(), output.Logged["log_odds_chosen"], 1e-5);
        Assert.Equal(logOdds.Average(LogSigmoid), output.Logged["log_odds_ratio"], 1e-5);
        // TRL's rewards: β × the length-averaged log-probs.
        Assert.Equal(beta * (Pc[0] / Lc[0] + Pc[1] / Lc[1]) / 2, output.RewardsChosen, 1e-5);
        Assert.Equal(beta * (Pr[0] / Lr[0] + Pr[1] / Lr[1]) / 2, output.RewardsRejected, 1e-5);
        Assert.Equal(0.5, output.Accuracy);          // −0.4 > −1.25, but −1.5 < −0.25

        // The learner's form: the odds-ratio term through DpoLoss, plus the NLL at weight 1.
        var oddsRatio = DpoLoss.Compute(DpoLossType.Orpo, Pairs(), beta);
        Assert.Equal(expected, oddsRatio.Loss.ToDouble() + DpoLoss.ChosenNll(Tensor(Pc), Tensor(Lc)).ToDouble(), 1e-5);
    }

    [Fact]
    public void Orpo_by_hand_for_one_pair_of_equal_length()
    {
        // a_c = ln 0.5, a_r = ln 0.25: odds 1 and 1/3, log odds ratio ln 3; NLL = −ln 0.5 over one token.
        var inputs = new DpoLossInputs(Tensor(Math.Log(0.5)), Tensor(Math.Log(0.25)), null, null, Tensor(1), Tensor(1));
        double expected = Math.Log(2) - 0.1 * Math.Log(0.75);     // log σ(ln 3) = ln(3/4)
        Assert.Equal(expected, OrpoLoss.Compute(inputs, 0.1).Loss.ToDouble(), 1e-5);
        Assert.Equal(Math.Log(3), OrpoLoss.Compute(inputs, 0.1).Logged["log_odds_chosen"], 1e-5);
    }

    [Fact]
    public void Orpo_stays_finite_where_the_model_is_sure_of_the_chosen_completion()
    {
        // Every token's log-prob rounds to 0 in fp32: log(1 − e^0) = −∞ unguarded.
        var chosen = Tensor(0.0, -3.0).requires_grad_(true);
        var output = OrpoLoss.Compute(Pairs(chosen), 0.1);
        output.Loss.backward();
        Assert.True(double.IsFinite(output.Loss.ToDouble()));
        Assert.All(chosen.grad!.data<float>().ToArray(), g => Assert.True(float.IsFinite(g)));
    }

    // Four single completions: policy and reference log-probs of their own completion (r = π − π_ref: 0.3, −1.0,
    // −0.5, 0.5) and of their KL completion.
    static readonly double[] Pi = { -1.2, -3.0, -2.5, -1.0 }, Ref = { -1.5, -2.0, -2.0, -1.5 };
    static readonly bool[] Labels = { true, false, true, false };

    static KtoLossInputs Kto(double[] piKl, double[] refKl, Tensor? policy = null, Tensor? policyKl = null) =>
        new(policy ?? Tensor(Pi), Tensor(Ref), policyKl ?? Tensor(piKl), Tensor(refKl), tensor(Labels));

    [Theory]
    [InlineData(0.1, 1.0, 1.0, new[] { -2.0, -1.0, -1.5, -2.5 }, new[] { -2.5, -1.4, -1.5, -2.6 })]  // z0 = mean(0.5, 0.4, 0, 0.1) = 0.25
    [InlineData(0.5, 1.33, 0.8, new[] { -2.0, -1.0, -1.5, -2.5 }, new[] { -1.0, -1.0, -1.0, -1.0 })] // mean −0.75: z0 clamps to 0
    public void Kto_weighs_each_label_against_the_clamped_batch_kl(double beta, double wd, double wu, double[] piKl, double[] refKl)
    {
        double z0 = Math.Max(0, piKl.Zip(refKl, (p, q) => p - q).Average());
        var losses = new double[4];
        var rewards = new double[4];
        for (int i = 0; i < 4; i++)
        {
            double r = Pi[i] - Ref[i];
            losses[i] = Labels[i] ? wd * (1 - Sigmoid(beta * (r - z0))) : wu * (1 - Sigmoid(beta * (z0 - r)));
            rewards[i] = beta * r;
        }
        var output = KtoLoss.Compute(Kto(piKl, refKl), beta, wd, wu);
        Assert.Equal(losses.Average(), output.Loss.ToDouble(), 1e-5);
        Assert.Equal(z0, output.Logged["kl"], 1e-5);
        double chosen = (rewards[0] + rewards[2]) / 2, rejected = (rewards[1] + rewards[3]) / 2;
        Assert.Equal(chosen, output.RewardsChosen, 1e-5);
        Assert.Equal(rejected, output.RewardsRejected, 1e-5);
        Assert.Equal(chosen - rejected, output.Margin, 1e-5);
        Assert.True(double.IsNaN(output.Accuracy));
    }

    [Fact]
    public void Kto_by_hand_with_the_policy_at_the_reference_is_half_of_each_weight()
    {
        // r = 0 and z0 = 0: every example's loss is its weight × (1 − σ(0)) = weight / 2.
        var same = new KtoLossInputs(Tensor(Pi), Tensor(Pi), Tensor(Pi), Tensor(Pi), tensor(Labels));
        Assert.Equal((2 * 0.5 + 1 * 0.5 + 2 * 0.5 + 1 * 0.5) / 4, KtoLoss.Compute(same, 0.1, desirableWeight: 2, undesirableWeight: 1).Loss.ToDouble(), 1e-6);
    }

    [Fact]
    public void Kto_gets_no_gradient_through_its_reference_point_and_pushes_desirable_up_and_undesirable_down()
    {
        var policy = Tensor(Pi).requires_grad_(true);
        var policyKl = Tensor(-2.0, -1.0, -1.5, -2.5).requires_grad_(true);
        KtoLoss.Compute(Kto([], [-2.5, -1.4, -1.5, -2.6], policy, policyKl), 0.1).Loss.backward();
        Assert.True(policyKl.grad is null || policyKl.grad.abs().sum().ToDouble() == 0, "gradient flowed into z0");
        var g = policy.grad!.data<float>().ToArray();
        Assert.True(g[0] < 0 && g[2] < 0, "desirable completions are not pushed up");
        Assert.True(g[1] > 0 && g[3] > 0, "undesirable completions are not pushed down");
    }

    [Fact]
    public void Kto_refuses_a_batch_of_one_and_names_invalid_weights()
    {
        var one = new KtoLossInputs(Tensor(-1.0), Tensor(-1.0), Tensor(-1.0), Tensor(-1.0), tensor(new[] { true }));
        Assert.Contains("at least 2", Assert.Throws<ArgumentException>(() => KtoLoss.Compute(one, 0.1)).Message);
        var errors = new DpoOptions { LossType = DpoLossType.Kto, DesirableWeight = 0, UndesirableWeight = -1, RpoAlpha = 1 }.Errors();
        foreach (var field in new[] { "dpo.desirable_weight", "dpo.undesirable_weight", "dpo.rpo_alpha" })
            Assert.Contains(errors, m => m.StartsWith(field + " "));
        Assert.Contains(new DpoOptions { LossType = DpoLossType.Orpo, RpoAlpha = 0.5 }.Errors(), m => m.StartsWith("dpo.rpo_alpha "));
        Assert.False(new DpoOptions { LossType = DpoLossType.Orpo }.NeedsReference);
        Assert.True(new DpoOptions { LossType = DpoLossType.Kto }.NeedsReference);
    }

    [Fact]
    public void Pairs_unpair_chosen_first_and_each_row_takes_the_previous_examples_completion_as_its_kl_completion()
    {
        var examples = KtoBatch.Unpair([new PreferencePair("1+1=", "2", "3"), new PreferencePair("2+2=", "4", "5")]);
        Assert.Equal([new KtoExample("1+1=", "2", true), new KtoExample("2+2=", "4", true), new KtoExample("1+1=", "3", false), new KtoExample("2+2=", "5", false)], examples);
        var (rows, labels) = KtoBatch.Rows(examples);
        // (x_1, y_n), (x_2, y_1), …: no prompt gets its own pair's other completion.
        Assert.Equal([new PreferencePair("1+1=", "2", "5"), new PreferencePair("2+2=", "4", "2"), new PreferencePair("1+1=", "3", "4"), new PreferencePair("2+2=", "5", "3")], rows);
        Assert.Equal([true, true, false, false], labels);
    }
}
