using TorchSharp;
using TorchSharp.Modules;
using RlhfActors.Training.Peft;
using static TorchSharp.torch;

namespace RlhfActors.Training.Model;

/// <summary>
/// y = x Wᵀ + b with the parameters kept in their storage dtype (fp32 master weights for training) and
/// cast to the input's dtype at use. This is mixed precision done by hand: TorchSharp has no CPU
/// autocast, and bf16 matrix products run ~3× faster than fp32 on this CPU.
/// Parameter-efficient fine-tuning plugs in here, the one place every linear layer passes through:
/// a LoRA branch (α/r)·B A dropout(x) registered as lora_A / lora_B (PEFT's parameter names), a frozen base held
/// as NF4 instead of a dense weight (QLoRA), and a bank of many adapters chosen per batch row (multi-LoRA serving).
/// </summary>
public sealed class CastLinear : nn.Module<Tensor, Tensor>
{
    public int InFeatures { get; }
    public int OutFeatures { get; }
    Parameter? weight;
    readonly Parameter? bias;
    Nf4Tensor? quantized;
    LoraFactor? loraA, loraB;
    LoraSwitch? loraSwitch;
    double loraScale, loraDropout;
    AdapterBankSlot? bank;

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

    /// <summary>The dense base weight; null while the base is held in NF4.</summary>
    public Parameter? Weight => weight;
    public Parameter? Bias => bias;
    public Nf4Tensor? Quantized => quantized;
    public bool HasLora => loraA is not null;
    public LoraFactor? LoraA => loraA;
    public LoraFactor? LoraB => loraB;

    public override Tensor forward(Tensor input)
    {
        var b = bias is null ? null : bias.dtype == input.dtype ? bias : bias.to(input.dtype);
        var y = nn.functional.linear(input, BaseWeight(input.dtype), b);
        if (loraA is not null && loraSwitch!.Enabled)
        {
            // Two thin products (x Aᵀ is [.., r]) rather than materialising B A: the point of a low rank.
            var x = loraDropout > 0 && training ? nn.functional.dropout(input, loraDropout, training: true) : input;
            var down = nn.functional.linear(x, Cast(loraA.weight, input.dtype));
            y = y + nn.functional.linear(down, Cast(loraB!.weight, input.dtype)) * loraScale;
        }
        if (bank?.RowDelta(input) is { } delta) y = y + delta;
        return y;
    }

    /// <summary>The frozen base weight as the compute dtype needs it: cast from the dense parameter, or dequantised
    /// from NF4 on the fly (QLoRA keeps only the 4-bit codes resident).</summary>
    Tensor BaseWeight(ScalarType dtype) =>
        quantized is not null ? quantized.Dequantize(dtype) : Cast(weight!, dtype);

    static Tensor Cast(Tensor t, ScalarType dtype) => t.dtype == dtype ? t : t.to(dtype);

    /// <summary>Gives the layer a fresh LoRA branch: A ~ U(±1/√in) (PEFT's kaiming-uniform with a = √5), B = 0, so
    /// its output is unchanged until B learns. A branch already present is re-drawn in place (its parameters stay the
    /// same objects, so anything holding them — an optimizer of an earlier stage — is not left with freed tensors).</summary>
    internal void AttachLora(LoraSettings settings, LoraSwitch toggle, Generator generator)
    {
        var device = weight?.device ?? quantized!.Device;
        double bound = 1.0 / Math.Sqrt(InFeatures);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var a = (rand(new long[] { settings.Rank, InFeatures }, ScalarType.Float32, generator: generator) * (2 * bound) - bound).to(device);
        if (loraA is not null && loraA.weight.shape[0] == settings.Rank)
        {
            loraA.weight.copy_(a);
            loraB!.weight.zero_();
        }
        else
        {
            if (loraA is not null) throw new InvalidOperationException("a LoRA branch of another rank is already attached");
            loraA = new LoraFactor(a.clone());
            loraB = new LoraFactor(zeros(new long[] { OutFeatures, settings.Rank }, ScalarType.Float32, device: device));
            register_module("lora_A", loraA);
            register_module("lora_B", loraB);
        }
        loraScale = settings.Scale;
        loraDropout = settings.Dropout;
        loraSwitch = toggle;
    }

    /// <summary>W ← W + (α/r)·B A in fp32, then a fresh branch (A re-drawn, B = 0): the layer computes what it did,
    /// and the next stage trains a new adapter on top. A quantised base is dequantised, merged and quantised again
    /// (the one lossy step).</summary>
    internal void MergeLora(LoraSettings settings, Generator generator)
    {
        if (loraA is null) return;
        using (var scope = NewDisposeScope())
        using (no_grad())
        {
            var delta = MergedDelta();
            if (quantized is not null)
            {
                var requantized = Nf4Tensor.Quantize(quantized.Dequantize(ScalarType.Float32) + delta, quantized.BlockSize, quantized.DoubleQuant);
                quantized.Dispose();
                quantized = requantized;
            }
            else
            {
                weight!.add_(delta.to(weight.dtype));
            }
        }
        AttachLora(settings, loraSwitch!, generator);
    }

    /// <summary>(α/r)·B A in fp32, [out, in]; zeros without a branch.</summary>
    public Tensor MergedDelta() => loraA is null
        ? zeros(OutFeatures, InFeatures)
        : loraB!.weight.detach().to(ScalarType.Float32).matmul(loraA.weight.detach().to(ScalarType.Float32)) * loraScale;

    /// <summary>Replaces the dense base weight by its NF4 codes (QLoRA). The parameter is unregistered: a quantised
    /// base is frozen, is not exported with the adapters, and its fp32 copy is freed.</summary>
    internal void QuantizeBase(int blockSize, bool doubleQuant)
    {
        if (quantized is not null) return;
        using (no_grad()) quantized = Nf4Tensor.Quantize(weight!, blockSize, doubleQuant);
        ConditionallyRegisterParameter("weight", null);
        weight!.Dispose();
        weight = null;
    }

    /// <summary>Quantises <paramref name="dense"/> as this layer's new frozen NF4 base (loading a base into a QLoRA model).</summary>
    internal void ReplaceQuantizedBase(Tensor dense)
    {
        var fresh = Nf4Tensor.Quantize(dense.to(ScalarType.Float32).to(quantized!.Device), quantized.BlockSize, quantized.DoubleQuant);
        quantized.Dispose();
        quantized = fresh;
    }

    /// <summary>Installs (or with null removes) this layer's slice of a multi-adapter bank.</summary>
    internal void SetBank(AdapterBankSlot? slot)
    {
        bank?.Dispose();
        bank = slot;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            quantized?.Dispose();
            bank?.Dispose();
        }
        base.Dispose(disposing);
    }
}

/// <summary>One LoRA factor as a module holding a single "weight", so the parameter path reads
/// <c>…q_proj.lora_A.weight</c> exactly as PEFT names it.</summary>
public sealed class LoraFactor : nn.Module
{
    public Parameter weight { get; }

    public LoraFactor(Tensor value) : base(nameof(LoraFactor))
    {
        weight = new Parameter(value, requires_grad: true);
        register_parameter("weight", weight);
        weight.DetachFromDisposeScope();
    }
}

/// <summary>The model-wide on/off switch of its LoRA branches: off, the model is its frozen base — which is how the
/// reference policy is computed under LoRA, without a second copy of the weights.</summary>
public sealed class LoraSwitch
{
    public bool Enabled { get; set; } = true;
}
