using RlhfActors.Training.Model;

namespace RlhfActors.Tests.Model;

/// <summary>
/// A scalar, loop-by-loop transcription of Hugging Face's LlamaForCausalLM / Qwen2ForCausalLM / Qwen3ForCausalLM forward
/// pass (modeling_llama.py: LlamaRMSNorm, rotate_half, apply_rotary_pos_emb, repeat_kv, eager attention, LlamaMLP;
/// modeling_qwen3.py: Qwen3RMSNorm of every query and key head over head_dim before the rotation),
/// in double precision and without TorchSharp, so the tensor implementation is checked against the
/// reference conventions rather than against itself.
/// </summary>
internal sealed class ReferenceLlama
{
    readonly ModelConfig c;
    readonly Dictionary<string, float[]> w;

    public ReferenceLlama(ModelConfig config, Dictionary<string, float[]> weights) { c = config; w = weights; }

    /// <summary>Logits [T][V] for one unpadded sequence at positions 0..T−1.</summary>
    public double[][] Forward(IReadOnlyList<int> ids)
    {
        int t = ids.Count, d = c.HiddenSize;
        var h = new double[t][];
        for (int i = 0; i < t; i++) h[i] = Row(w["model.embed_tokens.weight"], ids[i], d);
        for (int l = 0; l < c.NumHiddenLayers; l++)
        {
            string p = $"model.layers.{l}.";
            var normed = h.Select(x => RmsNorm(x, w[p + "input_layernorm.weight"])).ToArray();
            var attn = SelfAttention(normed, p + "self_attn.");
            for (int i = 0; i < t; i++) for (int j = 0; j < d; j++) h[i][j] += attn[i][j];
            for (int i = 0; i < t; i++)
            {
                var x = RmsNorm(h[i], w[p + "post_attention_layernorm.weight"]);
                var gate = Linear(x, p + "mlp.gate_proj", c.IntermediateSize);
                var up = Linear(x, p + "mlp.up_proj", c.IntermediateSize);
                var act = gate.Select((g, k) => g / (1 + Math.Exp(-g)) * up[k]).ToArray();
                var down = Linear(act, p + "mlp.down_proj", d);
                for (int j = 0; j < d; j++) h[i][j] += down[j];
            }
        }
        string head = c.TieWordEmbeddings ? "model.embed_tokens" : "lm_head";
        return h.Select(x => Linear(RmsNorm(x, w["model.norm.weight"]), head, c.VocabSize, weightOnly: true)).ToArray();
    }

    double[][] SelfAttention(double[][] x, string p)
    {
        int t = x.Length, hd = c.HeadDim, nh = c.NumAttentionHeads, kvh = c.KeyValueHeads;
        var q = x.Select(r => Linear(r, p + "q_proj", nh * hd)).ToArray();
        var k = x.Select(r => Linear(r, p + "k_proj", kvh * hd)).ToArray();
        var v = x.Select(r => Linear(r, p + "v_proj", kvh * hd)).ToArray();
        if (w.TryGetValue(p + "q_norm.weight", out var qNorm))
        {
            var kNorm = w[p + "k_norm.weight"];
            q = [.. q.Select(r => PerHead(r, nh, qNorm))];
            k = [.. k.Select(r => PerHead(r, kvh, kNorm))];
        }
        for (int i = 0; i < t; i++) { Rotate(q[i], nh, i); Rotate(k[i], kvh, i); }
        var output = new double[t][];
        for (int i = 0; i < t; i++)
        {
            output[i] = new double[nh * hd];
            for (int head = 0; head < nh; head++)
            {
                int kvHead = head / (nh / kvh); // repeat_kv: consecutive query heads share a kv head
                var scores = new double[i + 1];
                for (int j = 0; j <= i; j++)
                {
                    double s = 0;
                    for (int e = 0; e < hd; e++) s += q[i][head * hd + e] * k[j][kvHead * hd + e];
                    scores[j] = s / Math.Sqrt(hd);
                }
                double max = scores.Max(), sum = scores.Sum(s => Math.Exp(s - max));
                for (int j = 0; j <= i; j++)
                {
                    double a = Math.Exp(scores[j] - max) / sum;
                    for (int e = 0; e < hd; e++) output[i][head * hd + e] += a * v[j][kvHead * hd + e];
                }
            }
        }
        return output.Select(r => Linear(r, p + "o_proj", c.HiddenSize)).ToArray();
    }

    /// <summary>RMSNorm of each head's slice of <paramref name="x"/> on its own.</summary>
    double[] PerHead(double[] x, int heads, float[] weight)
    {
        int hd = c.HeadDim;
        return [.. Enumerable.Range(0, heads).SelectMany(h => RmsNorm(x[(h * hd)..((h + 1) * hd)], weight))];
    }

    /// <summary>rotate_half convention: pair element e with e + hd/2.</summary>
    void Rotate(double[] x, int heads, int position)
    {
        int hd = c.HeadDim, half = hd / 2;
        for (int h = 0; h < heads; h++)
        for (int e = 0; e < half; e++)
        {
            double invFreq = 1.0 / Math.Pow(c.RopeTheta, 2.0 * e / hd);
            double angle = position * invFreq, cos = Math.Cos(angle), sin = Math.Sin(angle);
            double a = x[h * hd + e], b = x[h * hd + e + half];
            x[h * hd + e] = a * cos - b * sin;
            x[h * hd + e + half] = b * cos + a * sin;
        }
    }

    double[] RmsNorm(double[] x, float[] weight)
    {
        double ms = x.Sum(v => v * v) / x.Length;
        double r = 1.0 / Math.Sqrt(ms + c.RmsNormEps);
        return x.Select((v, i) => v * r * weight[i]).ToArray();
    }

    double[] Linear(double[] x, string name, int outFeatures, bool weightOnly = false)
    {
        var weight = w[name + ".weight"];
        w.TryGetValue(name + ".bias", out var bias);
        var y = new double[outFeatures];
        for (int o = 0; o < outFeatures; o++)
        {
            double s = bias is null || weightOnly ? 0 : bias[o];
            for (int i = 0; i < x.Length; i++) s += weight[o * x.Length + i] * x[i];
            y[o] = s;
        }
        return y;
    }

    static double[] Row(float[] matrix, int row, int width) =>
        Enumerable.Range(0, width).Select(j => (double)matrix[row * width + j]).ToArray();
}
