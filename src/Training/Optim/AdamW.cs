using RlhfActors.Training.IO;
using RlhfActors.Training.Weights;
using TorchSharp.Modules;
using TorchSharp;
using static TorchSharp.torch;

namespace RlhfActors.Training.Optim;

/// <summary>
/// AdamW (Loshchilov & Hutter) with decoupled weight decay on matrices only (norm weights and biases are not
/// decayed, as in nanoGPT / HF Trainer). Written out here rather than using TorchSharp's optimizer so the
/// moments are addressable by parameter name and checkpoint to safetensors as "exp_avg.&lt;name&gt;" /
/// "exp_avg_sq.&lt;name&gt;" — no pickled optimizer state.
/// </summary>
public sealed class AdamW : IDisposable
{
    readonly (string Name, Parameter Param, Tensor ExpAvg, Tensor ExpAvgSq, bool Decay)[] slots;
    readonly double beta1, beta2, eps, weightDecay;
    public long StepCount { get; private set; }

    public AdamW(IEnumerable<(string Name, Parameter Param)> parameters, double beta1 = 0.9, double beta2 = 0.999,
        double eps = 1e-8, double weightDecay = 0.01)
    {
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
        slots = parameters.Where(p => p.Param.requires_grad).Select(p => (p.Name, p.Param,
            zeros_like(p.Param).DetachFromDisposeScope(), zeros_like(p.Param).DetachFromDisposeScope(), p.Param.dim() >= 2)).ToArray();
    }

    /// <summary>One update at learning rate <paramref name="lr"/> from the gradients currently held. The Scalars are
    /// made here and disposed after the loop, so none is left for the finalizer to free during a native call (the
    /// TorchSharp 0.107 race of docs/torchsharp-on-debian.md; an implicit one crashed a data-parallel run in addcmul_).</summary>
    public void Step(double lr)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        StepCount++;
        double bias1 = 1 - Math.Pow(beta1, StepCount);
        double bias2 = 1 - Math.Pow(beta2, StepCount);
        using Scalar decayFactor = (1 - lr * weightDecay).ToScalar(), b1 = beta1.ToScalar(), oneMinusB1 = (1 - beta1).ToScalar(),
            b2 = beta2.ToScalar(), oneMinusB2 = (1 - beta2).ToScalar(), bias2Scalar = bias2.ToScalar(), epsScalar = eps.ToScalar(),
            step = (-lr / bias1).ToScalar();
        foreach (var (_, p, m, v, decay) in slots)
        {
            var g = p.grad;
            if (g is null) continue;
            if (decay && weightDecay > 0) p.mul_(decayFactor);
            m.mul_(b1).add_(g, alpha: oneMinusB1);                   // m ← β₁m + (1−β₁)g
            v.mul_(b2).addcmul_(g, g, value: oneMinusB2);            // v ← β₂v + (1−β₂)g²
            var denom = v.div(bias2Scalar).sqrt_().add_(epsScalar);   // √v̂ + ε
            p.addcdiv_(m, denom, value: step);                       // θ ← θ − lr·m̂/(√v̂+ε)
        }
    }

    public void ZeroGrad()
    {
        foreach (var slot in slots) slot.Param.grad?.zero_();
    }

    public IReadOnlyList<TensorBytes> ExportState() =>
        slots.SelectMany(s => new[] { TorchTensors.FromTorch("exp_avg." + s.Name, s.ExpAvg), TorchTensors.FromTorch("exp_avg_sq." + s.Name, s.ExpAvgSq) })
             .ToArray();

    public void LoadState(IReadOnlyList<TensorBytes> state, long stepCount, string source)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var byName = state.ToDictionary(t => t.Name);
        foreach (var s in slots)
        {
            foreach (var (prefix, target) in new[] { ("exp_avg.", s.ExpAvg), ("exp_avg_sq.", s.ExpAvgSq) })
            {
                if (!byName.TryGetValue(prefix + s.Name, out var t))
                    throw new InvalidDataException($"{source}: optimizer state lacks '{prefix + s.Name}'");
                target.copy_(TorchTensors.ToTorch(t).view(target.shape));
            }
        }
        StepCount = stepCount;
    }

    public void Dispose()
    {
        foreach (var s in slots) { s.ExpAvg.Dispose(); s.ExpAvgSq.Dispose(); }
    }
}
