using RlhfActors.Training.Distillation;
using TorchSharp;
using static TorchSharp.torch;

namespace RlhfActors.Tests.Distillation;

/// <summary>Both distillation losses against values worked out here in double precision, independently of the code
/// under test (no torch in the expected values).</summary>
public sealed class DistillationLossTests
{
    [Fact]
    public void Reverse_kl_is_the_token_mean_of_log_ps_minus_log_pt_and_its_gradient_pushes_by_it()
    {
        // Two rows; the second has one real token and one pad.
        double[,] ls = { { -0.2, -1.5 }, { -0.7, -3.0 } };
        double[,] lt = { { -0.9, -0.4 }, { -0.1, -0.5 } };
        double[,] m = { { 1, 1 }, { 1, 0 } };
        var logp = tensor(Flat(ls), [2, 2]).requires_grad_();
        var output = DistillationLoss.ReverseKl(logp, tensor(Flat(lt), [2, 2]), tensor(Flat(m), [2, 2]));
        output.Loss.backward();

        double n = 3, sum = 0;
        var grad = new double[2, 2];
        for (int b = 0; b < 2; b++)
            for (int t = 0; t < 2; t++)
            {
                double rkl = ls[b, t] - lt[b, t];
                sum += m[b, t] * rkl;
                // loss = Σ m · rkl(detached) · ratio / n, d ratio / d logp = ratio = 1.
                grad[b, t] = m[b, t] * rkl / n;
            }
        Assert.Equal(sum / n, output.Loss.ToDouble(), 6);
        Assert.Equal(sum / n, output.ReverseKl, 6);
        Assert.Equal(3, output.Tokens);
        var g = logp.grad!.data<float>().ToArray();
        for (int i = 0; i < 4; i++) Assert.Equal(grad[i / 2, i % 2], g[i], 6);
        // The padded token (row 1, position 1) has no gradient whatever its values.
        Assert.Equal(0, g[3]);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.5)]
    [InlineData(0.9)]
    [InlineData(1.0)]
    public void Generalized_jsd_matches_trl_definition_over_the_whole_vocabulary(double beta)
    {
        // One row, two positions, vocabulary of 3; the student's logits are already divided by the temperature.
        double[][] studentLogits = [[1.0, 0.5, -1.0], [0.2, 0.3, 2.0]];
        double[][] teacherLogits = [[2.0, -0.5, 0.1], [0.0, 0.0, 0.0]];
        double[][] s = studentLogits.Select(LogSoftmax).ToArray();
        double[][] t = teacherLogits.Select(LogSoftmax).ToArray();
        double expected = 0, expectedRkl = 0;
        for (int pos = 0; pos < 2; pos++)
        {
            expected += Jsd(s[pos], t[pos], beta);
            expectedRkl += Kl(s[pos], t[pos]);
        }
        expected /= 2;
        expectedRkl /= 2;

        var ids = tensor(new long[] { 0, 1, 2, 0, 1, 2 }, [1, 2, 3]);
        var teacher = tensor(t.SelectMany(r => r.Select(v => (float)v)).ToArray(), [1, 2, 3]);
        var logits = tensor(studentLogits.SelectMany(r => r.Select(v => (float)v)).ToArray(), [1, 2, 3]);
        var output = DistillationLoss.GeneralizedJsd(logits, ids, teacher, ones(1, 2), beta);

        Assert.Equal(expected, output.Loss.ToDouble(), 5);
        Assert.Equal(expectedRkl, output.ReverseKl, 5);
    }

    [Fact]
    public void Generalized_jsd_endpoints_are_forward_and_reverse_kl_and_zero_when_the_models_agree()
    {
        double[] s = LogSoftmax([0.3, -0.2, 1.1]);
        double[] t = LogSoftmax([1.0, 0.0, -1.0]);
        Assert.Equal(Kl(t, s), Jsd(s, t, 0), 12);
        Assert.Equal(Kl(s, t), Jsd(s, t, 1), 12);
        var same = tensor(s.Select(v => (float)v).ToArray(), [1, 1, 3]);
        var output = DistillationLoss.GeneralizedJsd(same, tensor(new long[] { 0, 1, 2 }, [1, 1, 3]), same.log_softmax(-1), ones(1, 1), 0.5);
        Assert.Equal(0, output.Loss.ToDouble(), 6);
    }

    [Fact]
    public void A_top_k_teacher_renormalises_both_distributions_over_its_ids()
    {
        // Vocabulary of 4, the teacher's top 2 are ids 3 and 0.
        double[] logits = [0.5, -1.0, 0.0, 1.5];
        double[] teacherFull = LogSoftmax([1.0, -2.0, -1.0, 2.0]);
        long[] ids = [3, 0];
        double[] sK = Renormalise(ids.Select(i => LogSoftmax(logits)[i]).ToArray());
        double[] tK = Renormalise(ids.Select(i => teacherFull[i]).ToArray());
        double expected = Jsd(sK, tK, 0.5);

        var output = DistillationLoss.GeneralizedJsd(tensor(logits.Select(v => (float)v).ToArray(), [1, 1, 4]),
            tensor(ids, [1, 1, 2]), tensor(ids.Select(i => (float)teacherFull[i]).ToArray(), [1, 1, 2]), ones(1, 1), 0.5);
        Assert.Equal(expected, output.Loss.ToDouble(), 5);
    }

    [Fact]
    public void Generalized_jsd_gradient_is_zero_at_padding_and_matches_a_finite_difference()
    {
        double[] t = LogSoftmax([0.4, -0.3, 0.9]);
        double[] x = [0.1, 0.7, -0.2];
        double f(double[] z) => Jsd(LogSoftmax(z), t, 0.5);
        var logits = tensor(x.Concat([5.0, 5.0, 5.0]).Select(v => (float)v).ToArray(), [1, 2, 3]).requires_grad_();
        var teacher = tensor(t.Concat(t).Select(v => (float)v).ToArray(), [1, 2, 3]);
        var output = DistillationLoss.GeneralizedJsd(logits, tensor(new long[] { 0, 1, 2, 0, 1, 2 }, [1, 2, 3]), teacher,
            tensor(new float[] { 1, 0 }, [1, 2]), 0.5);
        output.Loss.backward();
        var g = logits.grad!.data<float>().ToArray();
        for (int v = 0; v < 3; v++)
        {
            const double h = 1e-6;
            var up = (double[])x.Clone(); up[v] += h;
            var down = (double[])x.Clone(); down[v] -= h;
            Assert.Equal((f(up) - f(down)) / (2 * h), g[v], 4);
            Assert.Equal(0, g[3 + v]);
        }
    }

    static float[] Flat(double[,] a) => a.Cast<double>().Select(v => (float)v).ToArray();

    static double[] LogSoftmax(double[] z)
    {
        double max = z.Max(), lse = max + Math.Log(z.Sum(v => Math.Exp(v - max)));
        return z.Select(v => v - lse).ToArray();
    }

    static double[] Renormalise(double[] logp)
    {
        double lse = Math.Log(logp.Sum(Math.Exp));
        return logp.Select(v => v - lse).ToArray();
    }

    /// <summary>KL(P ‖ Q) from log-probabilities.</summary>
    static double Kl(double[] logP, double[] logQ) => logP.Select((p, i) => Math.Exp(p) * (p - logQ[i])).Sum();

    /// <summary>TRL's generalised JSD: β·KL(T ‖ M) + (1 − β)·KL(S ‖ M), M = (1 − β)·S + β·T; the KLs at the ends.</summary>
    static double Jsd(double[] s, double[] t, double beta)
    {
        if (beta == 0) return Kl(t, s);
        if (beta == 1) return Kl(s, t);
        var m = s.Select((sv, i) => Math.Log((1 - beta) * Math.Exp(sv) + beta * Math.Exp(t[i]))).ToArray();
        return beta * Kl(t, m) + (1 - beta) * Kl(s, m);
    }
}
