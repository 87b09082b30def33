using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RlhfActors.Training.Model;

/// <summary>RMSNorm as Hugging Face's LlamaRMSNorm: normalise in fp32, cast back, then scale by the weight.</summary>
public sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    readonly Parameter weight;
    // Held by the module, so never finalized mid-call (KeptScalars says why).
    readonly Scalar eps;

    public RmsNorm(int size, double eps) : base(nameof(RmsNorm))
    {
        this.eps = eps;
        weight = new Parameter(ones(size));
        register_parameter("weight", weight);
    }

    public override Tensor forward(Tensor x)
    {
        var inputType = x.dtype;
        var xf = x.to(ScalarType.Float32);
        // pow(kept 2), not square() (which is pow(2) with a temporary Scalar in TorchSharp 0.107), and eps a kept
        // Scalar: no temporary for the finalizer to free while the native call still reads it (KeptScalars;
        // dotnet/TorchSharp#1496). Not xf·xf: autograd then sums the gradient's parts in another order (other bits).
        var normed = xf * rsqrt(xf.pow(KeptScalars.Two).mean(new long[] { -1 }, keepdim: true).add(eps, KeptScalars.One));
        return weight.to(inputType) * normed.to(inputType);
    }
}
