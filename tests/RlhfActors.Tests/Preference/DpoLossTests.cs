using RlhfActors.Training.Preference;
using TorchSharp;
using static TorchSharp.torch;

namespace RlhfActors.Tests.Preference;

/// <summary>Each loss variant against its formula written out here in doubles (TRL's dpo_loss / cpo_loss), never by
/// calling the production code.</summary>
public sealed class DpoLossTests
{
    // Two pairs: sums of token log-probs, and token counts of the completions.
    static readonly double[] Pc = { -1.2, -3.0 }, Pr = { -2.5, -1.0 }, Rc = { -1.5, -2.0 }, Rr = { -2.0, -1.5 };
    static readonly double[] Lc = { 3, 2 }, Lr = { 2, 4 };

    static double LogSigmoid(double x) => -Math.Log(1 + Math.Exp(-x));

    static DpoLossInputs Inputs(bool withReference = true) => new(
        Tensor(Pc), Tensor(Pr), withReference ? Tensor(Rc) : null, withReference ? Tensor(Rr) : null, Tensor(Lc), Tensor(Lr));

    static Tensor Tensor(double[] values) => tensor(values.Select(v => (float)v).ToArray());

    /// <summary>Mean loss and TRL's metrics from per-pair losses and rewards.</summary>
    static void AssertOutput(DpoLossOutput actual, double[] losses, double[] chosenRewards, double[] rejectedRewards)
    {
        Assert.Equal(losses.Average(), actual.Loss.ToDouble(), 1e-5);
        Assert.Equal(chosenRewards.Average(), actual.RewardsChosen, 1e-5);
        Assert.Equal(rejectedRewards.Average(), actual.RewardsRejected, 1e-5);
        Assert.Equal(chosenRewards.Zip(rejectedRewards, (c, r) => c - r).Average(), actual.Margin, 1e-5);
        Assert.Equal(chosenRewards.Zip(rejectedRewards, (c, r) => c > r ? 1.0 : 0.0).Average(), actual.Accuracy, 1e-9);
    }

    [Theory]
    [InlineData(0.1, 0.0)]
    [InlineData(0.5, 0.2)]
    public void Sigmoid_is_dpo_and_with_label_smoothing_cdpo(double beta, double eps)
    {
        var losses = new double[2];
        for (int i = 0; i < 2; i++)
        {
            double h = (Pc[i] - Pr[i]) - (Rc[i] - Rr[i]);
            losses[i] = -(1 - eps) * LogSigmoid(beta * h) - eps * LogSigmoid(-beta * h);
        }
        var output = DpoLoss.Sigmoid(Inputs(), beta, eps);
        AssertOutput(output, losses, new[] { beta * (Pc[0] - Rc[0]), beta * (Pc[1] - Rc[1]) },
            new[] { beta * (Pr[0] - Rr[0]), beta * (Pr[1] - Rr[1]) });
        Assert.Equal(0.5, output.Accuracy);
        Assert.Equal(output.Loss.ToDouble(), DpoLoss.Compute(DpoLossType.Sigmoid, Inputs(), beta, eps).Loss.ToDouble(), 1e-7);
    }

    [Fact]
    public void Rpo_nll_is_minus_the_chosen_log_probs_over_all_chosen_tokens()
    {
        double expected = -(Pc[0] + Pc[1]) / (Lc[0] + Lc[1]);   // 4.2 / 5 = 0.84
        Assert.Equal(expected, DpoLoss.ChosenNll(Tensor(Pc), Tensor(Lc)).ToDouble(), 1e-6);
        Assert.Throws<ArgumentException>(() => DpoLoss.ChosenNll(Tensor(Pc), Tensor(new double[] { 1, 2, 3 })));
    }

    [Theory]
    [InlineData(0.1, 0.0)]
    [InlineData(0.5, 0.2)]
    public void Robust_debiases_the_label_noise_with_a_plus_sign_and_1_over_1_minus_2_eps(double beta, double eps)
    {
        var losses = new double[2];
        for (int i = 0; i < 2; i++)
        {
            double h = (Pc[i] - Pr[i]) - (Rc[i] - Rr[i]);
            losses[i] = (-(1 - eps) * LogSigmoid(beta * h) + eps * LogSigmoid(-beta * h)) / (1 - 2 * eps);
        }
        var output = DpoLoss.Robust(Inputs(), beta, eps);
        AssertOutput(output, losses, new[] { beta * (Pc[0] - Rc[0]), beta * (Pc[1] - Rc[1]) },
            new[] { beta * (Pr[0] - Rr[0]), beta * (Pr[1] - Rr[1]) });
        Assert.Equal(output.Loss.ToDouble(), DpoLoss.Compute(DpoLossType.Robust, Inputs(), beta, eps).Loss.ToDouble(), 1e-7);
    }

    [Fact]
    public void Ipo_squares_the_length_averaged_log_ratio_gap_minus_1_over_2_beta()
    {
        const double beta = 0.3;
        var losses = new double[2];
        var chosen = new double[2];
        var rejected = new double[2];
        for (int i = 0; i < 2; i++)
        {
            double c = Pc[i] / Lc[i] - Rc[i] / Lc[i], r = Pr[i] / Lr[i] - Rr[i] / Lr[i];
            losses[i] = Math.Pow(c - r - 1 / (2 * beta), 2);
            (chosen[i], rejected[i]) = (beta * c, beta * r);
        }
        var output = DpoLoss.Ipo(Inputs(), beta);
        AssertOutput(output, losses, chosen, rejected);
        Assert.Equal(output.Loss.ToDouble(), DpoLoss.Compute(DpoLossType.Ipo, Inputs(), beta).Loss.ToDouble(), 1e-7);
    }

    [Theory]
    [InlineData(2.0, 0.5, 0.0)]
    [InlineData(2.5, 1.0, 0.1)]
    public void Simpo_is_reference_free_on_average_log_probs_with_margin_gamma(double beta, double gamma, double eps)
    {
        var losses = new double[2];
        var chosen = new double[2];
        var rejected = new double[2];
        for (int i = 0; i < 2; i++)
        {
            double logits = beta * (Pc[i] / Lc[i] - Pr[i] / Lr[i]) - gamma;
            losses[i] = -(1 - eps) * LogSigmoid(logits) - eps * LogSigmoid(-logits);
            (chosen[i], rejected[i]) = (beta * Pc[i] / Lc[i], beta * Pr[i] / Lr[i]);
        }
        var output = DpoLoss.Simpo(Inputs(withReference: false), beta, gamma, eps);
        AssertOutput(output, losses, chosen, rejected);
        Assert.Equal(output.Loss.ToDouble(),
            DpoLoss.Compute(DpoLossType.Simpo, Inputs(withReference: false), beta, eps, gamma).Loss.ToDouble(), 1e-7);
    }

    [Theory]
    [InlineData(0.1)]
    [InlineData(0.5)]
    public void With_the_policy_equal_to_the_reference_dpo_is_log_2_and_ipo_is_1_over_4_beta_squared(double beta)
    {
        var same = new DpoLossInputs(Tensor(Pc), Tensor(Pr), Tensor(Pc), Tensor(Pr), Tensor(Lc), Tensor(Lr));
        Assert.Equal(Math.Log(2), DpoLoss.Sigmoid(same, beta).Loss.ToDouble(), 1e-6);
        Assert.Equal(Math.Log(2), DpoLoss.Robust(same, beta, 0.2).Loss.ToDouble(), 1e-6);
        Assert.Equal(1 / (4 * beta * beta), DpoLoss.Ipo(same, beta).Loss.ToDouble(), 1e-4);
        Assert.Equal(0.0, DpoLoss.Sigmoid(same, beta).Accuracy);
    }

    [Fact]
    public void The_loss_is_differentiable_in_the_policy_log_probs_and_pushes_chosen_up_and_rejected_down()
    {
        var chosen = Tensor(Pc).requires_grad_(true);
        var rejected = Tensor(Pr).requires_grad_(true);
        var output = DpoLoss.Sigmoid(new DpoLossInputs(chosen, rejected, Tensor(Rc), Tensor(Rr), Tensor(Lc), Tensor(Lr)), 0.1);
        output.Loss.backward();
        Assert.All(chosen.grad!.data<float>().ToArray(), g => Assert.True(g < 0));
        Assert.All(rejected.grad!.data<float>().ToArray(), g => Assert.True(g > 0));
    }

    [Theory]
    [InlineData(0.0, 0.0, 0.5, "dpo.beta")]
    [InlineData(-1.0, 0.0, 0.5, "dpo.beta")]
    [InlineData(0.1, 0.5, 0.5, "dpo.label_smoothing")]
    [InlineData(0.1, -0.1, 0.5, "dpo.label_smoothing")]
    [InlineData(0.1, 0.0, -1.0, "dpo.simpo_gamma")]
    public void Invalid_hyperparameters_are_refused_naming_the_field(double beta, double eps, double gamma, string field)
    {
        var e = Assert.Throws<ArgumentException>(() => DpoLoss.Simpo(Inputs(withReference: false), beta, gamma, eps));
        Assert.Contains(field, e.Message);
        var options = new DpoOptions { Beta = beta, LabelSmoothing = eps, SimpoGamma = gamma };
        Assert.Contains(options.Errors(), m => m.StartsWith(field + " "));
    }

    [Fact]
    public void Options_errors_name_each_invalid_field_and_defaults_are_trls()
    {
        var defaults = new DpoOptions();
        Assert.Empty(defaults.Errors());
        Assert.Equal((0.1, DpoLossType.Sigmoid, 0.0, 0.5), (defaults.Beta, defaults.LossType, defaults.LabelSmoothing, defaults.SimpoGamma));
        var errors = new DpoOptions { LearningRate = 0, BatchSize = 0, MaxGradNorm = -1, WeightDecay = -1, LossType = (DpoLossType)9 }.Errors();
        foreach (var field in new[] { "dpo.learning_rate", "dpo.batch_size", "dpo.max_grad_norm", "dpo.weight_decay", "dpo.loss_type" })
            Assert.Contains(errors, m => m.StartsWith(field + " "));
    }

    [Fact]
    public void A_reference_based_loss_without_reference_log_probs_is_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => DpoLoss.Sigmoid(Inputs(withReference: false), 0.1));
        Assert.Contains("reference", e.Message);
    }
}
