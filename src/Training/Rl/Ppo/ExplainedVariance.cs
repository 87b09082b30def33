using TorchSharp;
using static TorchSharp.torch;

namespace RlhfActors.Training.Rl.Ppo;

/// <summary>
/// How much of the returns' variance the critic explains, over the masked tokens (as SB3 and TRL report it):
/// <code>EV = 1 − Var(R − V) / Var(R)</code>
/// 1 = perfect values, 0 = no better than a constant, negative = worse than a constant. NaN when the returns do not
/// vary (nothing to explain).
/// </summary>
public static class ExplainedVariance
{
    public static double Compute(Tensor values, Tensor returns, Tensor mask)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        double varReturns = Whitening.MaskedVariance(returns, mask).ToDouble();
        double varResidual = Whitening.MaskedVariance(returns - values, mask).ToDouble();
        return varReturns > 0 ? 1 - varResidual / varReturns : double.NaN;
    }
}
