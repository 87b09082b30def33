using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RlhfActors.Training.Model;

/// <summary>
/// y = x Wᵀ + b with the parameters kept in their storage dtype (fp32 master weights for training) and
/// cast to the input's dtype at use. This is mixed precision done by hand: TorchSharp has no CPU
/// autocast, and bf16 matrix products run ~3× faster than fp32 on this CPU.
/// </summary>
public sealed class CastLinear : nn.Module<Tensor, Tensor>
{
    public int InFeatures { get; }
    public int OutFeatures { get; }
    readonly Parameter weight;
    readonly Parameter? bias;

    public CastLinear(int inFeatures, int outFeatures, bool hasBias) : base(nameof(CastLinear))
    {
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        weight = new Parameter(empty(outFeatures, inFeatures));
        register_parameter("weight", weight);
        if (hasBias)
        {
            bias = new Parameter(zeros(outFeatures));
            register_parameter("bias", bias);
        }
    }

    public Parameter Weight => weight;
    public Parameter? Bias => bias;

    public override Tensor forward(Tensor input)
    {
        var w = weight.dtype == input.dtype ? weight : weight.to(input.dtype);
        var b = bias is null ? null : bias.dtype == input.dtype ? bias : bias.to(input.dtype);
        return nn.functional.linear(input, w, b);
    }
}
