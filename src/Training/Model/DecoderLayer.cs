using TorchSharp;
using static TorchSharp.torch;

namespace RlhfActors.Training.Model;

/// <summary>Pre-norm residual block: x + attn(norm(x)), then + mlp(norm(x)).</summary>
public sealed class DecoderLayer : nn.Module<Tensor, Tensor>
{
    readonly Attention self_attn;
    readonly SwiGluMlp mlp;
    readonly RmsNorm input_layernorm, post_attention_layernorm;
    readonly int index;

    public DecoderLayer(ModelConfig config, int index) : base(nameof(DecoderLayer))
    {
        this.index = index;
        self_attn = new Attention(config);
        mlp = new SwiGluMlp(config);
        input_layernorm = new RmsNorm(config.HiddenSize, config.RmsNormEps);
        post_attention_layernorm = new RmsNorm(config.HiddenSize, config.RmsNormEps);
        register_module("self_attn", self_attn);
        register_module("mlp", mlp);
        register_module("input_layernorm", input_layernorm);
        register_module("post_attention_layernorm", post_attention_layernorm);
    }

    public override Tensor forward(Tensor x) => throw new NotSupportedException("call Forward");

    public Tensor Forward(Tensor x, Tensor cos, Tensor sin, Tensor? mask, KvCache? cache)
    {
        // Plus, not +: no temporary Scalar per residual (KeptScalars).
        var h = x.Plus(self_attn.Forward(input_layernorm.forward(x), cos, sin, mask, cache, index));
        return h.Plus(mlp.forward(post_attention_layernorm.forward(h)));
    }
}
