using TorchSharp;
using static TorchSharp.torch;

namespace RlhfActors.Training.Model;

/// <summary>down(silu(gate(x)) ⊙ up(x)) — the Llama / Qwen2 MLP.</summary>
public sealed class SwiGluMlp : nn.Module<Tensor, Tensor>
{
    readonly CastLinear gate_proj, up_proj, down_proj;

    public SwiGluMlp(ModelConfig config) : base(nameof(SwiGluMlp))
    {
        gate_proj = new CastLinear(config.HiddenSize, config.IntermediateSize, false);
        up_proj = new CastLinear(config.HiddenSize, config.IntermediateSize, false);
        down_proj = new CastLinear(config.IntermediateSize, config.HiddenSize, false);
        register_module("gate_proj", gate_proj);
        register_module("up_proj", up_proj);
        register_module("down_proj", down_proj);
    }

    public override Tensor forward(Tensor x) =>
        down_proj.forward(nn.functional.silu(gate_proj.forward(x)) * up_proj.forward(x));
}
