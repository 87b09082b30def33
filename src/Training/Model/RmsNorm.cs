using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RlhfActors.Training.Model;

/// <summary>RMSNorm as Hugging Face's LlamaRMSNorm: normalise in fp32, cast back, then scale by the weight.</summary>
public sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    readonly Parameter weight;
    readonly double eps;

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
        var normed = xf * rsqrt(xf.pow(2).mean(new long[] { -1 }, keepdim: true) + eps);
        return weight.to(inputType) * normed.to(inputType);
    }
}
