using RlhfActors.Training.RewardModeling;
using TorchSharp;
using static TorchSharp.torch;

namespace RlhfActors.Tests.RewardModeling;

public sealed class BradleyTerryLossTests
{
    static readonly double[] Chosen = [2.0, -0.5, 0.3];
    static readonly double[] Rejected = [1.0, 0.5, -40.0];
    static readonly double[] Margin = [0.5, 0.0, 1.0];

    static double NegLogSigmoid(double x) => Math.Log(1 + Math.Exp(-x));
    static Tensor T(double[] values, bool grad = false) => tensor(values, dtype: ScalarType.Float64).requires_grad_(grad);

    [Fact]
    public void Loss_is_the_mean_negative_log_sigmoid_of_the_gap_and_reports_accuracy_and_means()
    {
        var result = BradleyTerryLoss.Compute(T(Chosen), T(Rejected));
        double expected = Enumerable.Range(0, 3).Average(i => NegLogSigmoid(Chosen[i] - Rejected[i]));
        Assert.Equal(expected, result.Loss.ToDouble(), 10);
        Assert.Equal(2.0 / 3, result.Accuracy, 10);
        Assert.Equal(Chosen.Average(), result.MeanChosen, 10);
        Assert.Equal(Rejected.Average(), result.MeanRejected, 10);
        Assert.Equal(Chosen.Average() - Rejected.Average(), result.MeanMargin, 10);
    }

    [Fact]
    public void Margin_is_subtracted_from_the_gap_and_centering_adds_the_mean_squared_sum()
    {
        const double lambda = 0.01;
        var result = BradleyTerryLoss.Compute(T(Chosen), T(Rejected), T(Margin), lambda);
        double bt = Enumerable.Range(0, 3).Average(i => NegLogSigmoid(Chosen[i] - Rejected[i] - Margin[i]));
        double center = Enumerable.Range(0, 3).Average(i => Math.Pow(Chosen[i] + Rejected[i], 2));
        Assert.Equal(bt + lambda * center, result.Loss.ToDouble(), 10);
        Assert.Equal(2.0 / 3, result.Accuracy, 10); // accuracy is about the scores, not the margin
    }

    [Fact]
    public void Gradient_raises_the_chosen_score_and_lowers_the_rejected_one()
    {
        var chosen = T(Chosen, grad: true);
        var rejected = T(Rejected, grad: true);
        BradleyTerryLoss.Compute(chosen, rejected).Loss.backward();
        // ∂L/∂r_c = −σ(−gap)/B < 0 and ∂L/∂r_r = −∂L/∂r_c: descent moves r_c up and r_r down.
        var gc = chosen.grad!.data<double>().ToArray();
        var gr = rejected.grad!.data<double>().ToArray();
        for (int i = 0; i < 3; i++)
        {
            Assert.True(gc[i] < 0, $"d loss / d chosen[{i}] = {gc[i]}");
            Assert.Equal(-gc[i], gr[i], 12);
            Assert.Equal(-1.0 / (1 + Math.Exp(Chosen[i] - Rejected[i])) / 3, gc[i], 10);
        }
    }

    [Fact]
    public void A_huge_gap_stays_finite()
    {
        var result = BradleyTerryLoss.Compute(T([-500.0]), T([500.0]));
        Assert.Equal(1000.0, result.Loss.ToDouble(), 6);
    }
}
