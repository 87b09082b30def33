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
        // square(), not pow(2): the same kernel, without the temporary Scalar that pow's int overload creates and leaves
        // to the finalizer (TorchSharp), which can free it while the native call still reads it (seen once in CI as
        // "INTERNAL ASSERT FAILED at c10/core/Scalar.h" inside pow; dotnet/TorchSharp#1496).
        var normed = xf * rsqrt(xf.square().mean(new long[] { -1 }, keepdim: true) + eps);
        return weight.to(inputType) * normed.to(inputType);
    }
}
