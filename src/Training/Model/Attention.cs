using TorchSharp;
using static TorchSharp.torch;

namespace RlhfActors.Training.Model;

/// <summary>
/// Grouped-query self-attention (Llama / Qwen2): num_attention_heads query heads share num_key_value_heads
/// key/value heads; rotary embeddings on q and k; optional q/k/v bias (Qwen2) and o bias (Llama attention_bias); Qwen3's
/// q_norm / k_norm, an RMSNorm over head_dim of every query and key head before the rotation.
/// </summary>
public sealed class Attention : nn.Module<Tensor, Tensor>
{
    readonly CastLinear q_proj, k_proj, v_proj, o_proj;
    readonly RmsNorm? q_norm, k_norm;
    readonly int heads, kvHeads, headDim;

    public Attention(ModelConfig config) : base(nameof(Attention))
    {
        heads = config.NumAttentionHeads;
        kvHeads = config.KeyValueHeads;
        headDim = config.HeadDim;
        q_proj = new CastLinear(config.HiddenSize, heads * headDim, config.QkvBias);
        k_proj = new CastLinear(config.HiddenSize, kvHeads * headDim, config.QkvBias);
        v_proj = new CastLinear(config.HiddenSize, kvHeads * headDim, config.QkvBias);
        o_proj = new CastLinear(heads * headDim, config.HiddenSize, config.OutputBias);
        register_module("q_proj", q_proj);
        register_module("k_proj", k_proj);
        register_module("v_proj", v_proj);
        register_module("o_proj", o_proj);
        if (config.QkNorm)
        {
            q_norm = new RmsNorm(headDim, config.RmsNormEps);
            k_norm = new RmsNorm(headDim, config.RmsNormEps);
            register_module("q_norm", q_norm);
            register_module("k_norm", k_norm);
        }
    }

    public override Tensor forward(Tensor x) => throw new NotSupportedException("call Forward with rotary tables and a mask");

    /// <param name="x">[B, T, hidden]</param>
    /// <param name="cos">[B, 1, T, headDim] rotary table for these positions</param>
    /// <param name="mask">bool [B or 1, 1, T, Tk] (true = attend), or null for plain causal attention over x alone</param>
    /// <param name="cache">when given, this step's k/v are appended and attention runs over the whole cache</param>
    public Tensor Forward(Tensor x, Tensor cos, Tensor sin, Tensor? mask, KvCache? cache, int layerIndex)
    {
        long b = x.shape[0], t = x.shape[1];
        var q = q_proj.forward(x).view(b, t, heads, headDim);
        var k = k_proj.forward(x).view(b, t, kvHeads, headDim);
        if (q_norm is not null) (q, k) = (q_norm.forward(q), k_norm!.forward(k));
        q = q.transpose(1, 2);
        k = k.transpose(1, 2);
        var v = v_proj.forward(x).view(b, t, kvHeads, headDim).transpose(1, 2);
        q = RotaryEmbedding.Apply(q, cos, sin);
        k = RotaryEmbedding.Apply(k, cos, sin);
        if (cache is not null) (k, v) = cache.Append(layerIndex, k, v);
        k = RepeatKv(k);
        v = RepeatKv(v);
        var attended = mask is null
            ? nn.functional.scaled_dot_product_attention(q, k, v, is_casual: true)
            : nn.functional.scaled_dot_product_attention(q, k, v, attn_mask: mask);
        return o_proj.forward(attended.transpose(1, 2).reshape(b, t, heads * headDim));
    }

    /// <summary>Each key/value head serves heads/kvHeads consecutive query heads (Hugging Face's repeat_kv).</summary>
    Tensor RepeatKv(Tensor kv)
    {
        int rep = heads / kvHeads;
        if (rep == 1) return kv;
        long b = kv.shape[0], tk = kv.shape[2];
        return kv.unsqueeze(2).expand(b, kvHeads, rep, tk, headDim).reshape(b, heads, tk, headDim);
    }
}
