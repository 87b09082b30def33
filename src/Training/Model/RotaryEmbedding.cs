using static TorchSharp.torch;

namespace RlhfActors.Training.Model;

/// <summary>
/// Rotary position embeddings in Hugging Face's rotate-half convention: the head dimension is split into
/// two halves (not interleaved pairs), inv_freq_i = θ^(−2i/d), and q' = q·cos + rotate_half(q)·sin.
/// cos/sin are computed in fp32 from explicit positions so left-padded batches rotate correctly.
/// </summary>
public static class RotaryEmbedding
{
    /// <summary>cos and sin of shape [B, 1, T, headDim] for positions [B, T], unscaled.</summary>
    public static (Tensor Cos, Tensor Sin) CosSin(Tensor positions, int headDim, double theta, ScalarType dtype) =>
        CosSin(positions, DefaultInverseFrequencies(headDim, theta, positions.device), 1.0, dtype);

    /// <summary>cos and sin for <paramref name="config"/>'s rotary embeddings, <c>rope_scaling</c> included.</summary>
    public static (Tensor Cos, Tensor Sin) CosSin(Tensor positions, ModelConfig config, ScalarType dtype)
    {
        // Dynamic NTK depends on the sequence length: the batch's furthest position + 1.
        long seqLen = config.RopeScaling?.Type == "dynamic" ? positions.max().item<long>() + 1 : 0;
        var (invFreq, attentionFactor) = InverseFrequencies(config, seqLen, positions.device);
        return CosSin(positions, invFreq, attentionFactor, dtype);
    }

    static (Tensor Cos, Tensor Sin) CosSin(Tensor positions, Tensor invFreq, double attentionFactor, ScalarType dtype)
    {
        var freqs = positions.to(ScalarType.Float32).unsqueeze(-1) * invFreq;   // [B, T, d/2]
        var emb = cat(new[] { freqs, freqs }, -1);                                // [B, T, d]
        var (cos, sin) = (emb.cos(), emb.sin());
        if (attentionFactor != 1.0) (cos, sin) = (cos * attentionFactor, sin * attentionFactor);
        return (cos.unsqueeze(1).to(dtype), sin.unsqueeze(1).to(dtype));
    }

    /// <summary>inv_freq_i = θ^(−2i/d), computed in fp32 as transformers does.</summary>
    static Tensor DefaultInverseFrequencies(int headDim, double theta, Device device) =>
        1.0 / pow(theta, arange(0, headDim, 2, ScalarType.Float32, device) / headDim);

    /// <summary>
    /// The inverse frequencies [d/2] and the factor cos and sin are multiplied by, per <c>rope_scaling</c> type, as
    /// transformers' <c>_compute_*_parameters</c> compute them (d = head_dim, θ = rope_theta, s = factor, L =
    /// max_position_embeddings):
    /// <code>
    /// default:  inv_i = θ^(−2i/d)
    /// linear:   inv_i = θ^(−2i/d) / s                       (positions divided by s)
    /// dynamic:  n = max(seq_len, L); θ' = θ·(s·n/L − (s − 1))^(d/(d−2)); inv_i = θ'^(−2i/d)
    /// llama3:   λ_i = 2π / inv_i; L₀ = original_max_position_embeddings; lo, hi = low/high_freq_factor
    ///           λ_i &gt; L₀/lo (low frequencies):  inv_i / s
    ///           λ_i &lt; L₀/hi (high frequencies): inv_i
    ///           between: (1 − σ)·inv_i/s + σ·inv_i, σ = (L₀/λ_i − lo) / (hi − lo)
    /// yarn:     L₀ = original_max_position_embeddings (else L); β_f, β_s = beta_fast, beta_slow (32, 1)
    ///           dim(r) = d·ln(L₀ / (2π·r)) / (2·ln θ)       the dimension that turns r times over L₀
    ///           lo = max(⌊dim(β_f)⌋, 0), hi = min(⌈dim(β_s)⌉, d − 1)   (no ⌊⌋/⌈⌉ when truncate is false)
    ///           ramp_i = clamp((i − lo) / (hi − lo), 0, 1)   (hi += 0.001 when lo = hi)
    ///           inv_i = θ^(−2i/d) · (ramp_i / s + (1 − ramp_i))   (fast dimensions kept, slow ones interpolated)
    ///           cos and sin × attention_factor, default m(s) = 0.1·ln s + 1 (1 when s ≤ 1), or
    ///           m(s, mscale) / m(s, mscale_all_dim) with m(s, μ) = 0.1·μ·ln s + 1 when both are set and non-zero
    /// </code>
    /// Only yarn scales cos and sin; the others return attention factor 1. Transformers 4.4x–4.5x replaced yarn's
    /// factor by L / L₀ whenever original_max_position_embeddings was given; 5.x (followed here) uses the factor
    /// as written and falls back to L / L₀ only without one, which this record's validation requires anyway.
    /// </summary>
    public static (Tensor InvFreq, double AttentionFactor) InverseFrequencies(ModelConfig config, long seqLen, Device device)
    {
        int d = config.HeadDim;
        var scaling = config.RopeScaling;
        switch (scaling?.Type ?? "default")
        {
            case "linear":
                return (DefaultInverseFrequencies(d, config.RopeTheta, device) / scaling!.Factor!.Value, 1.0);
            case "dynamic":
            {
                double s = scaling!.Factor!.Value, l = config.MaxPositionEmbeddings;
                double n = Math.Max(seqLen, config.MaxPositionEmbeddings);
                double theta = config.RopeTheta * Math.Pow(s * n / l - (s - 1), d / (d - 2.0));
                return (DefaultInverseFrequencies(d, theta, device), 1.0);
            }
            case "llama3":
            {
                var inv = DefaultInverseFrequencies(d, config.RopeTheta, device);
                double s = scaling!.Factor!.Value, lo = scaling.LowFreqFactor!.Value, hi = scaling.HighFreqFactor!.Value;
                double l0 = scaling.OriginalMaxPositionEmbeddings!.Value;
                var wavelen = 2 * Math.PI / inv;
                var scaled = where(wavelen > l0 / lo, inv / s, inv);
                var smooth = (l0 / wavelen - lo) / (hi - lo);
                var smoothed = (1 - smooth) * scaled / s + smooth * scaled;
                var medium = wavelen.ge(l0 / hi).logical_and(wavelen.le(l0 / lo));
                return (where(medium, smoothed, scaled), 1.0);
            }
            case "yarn":
                return Yarn(config, d, device);
            default:
                return (DefaultInverseFrequencies(d, config.RopeTheta, device), 1.0);
        }
    }

    static (Tensor InvFreq, double AttentionFactor) Yarn(ModelConfig config, int d, Device device)
    {
        var scaling = config.RopeScaling!;
        double s = scaling.Factor!.Value, theta = config.RopeTheta;
        double l0 = scaling.OriginalMaxPositionEmbeddings ?? config.MaxPositionEmbeddings;
        static double M(double scale, double mscale) => scale <= 1 ? 1.0 : 0.1 * mscale * Math.Log(scale) + 1.0;
        // Python's `x or default` and `if mscale and mscale_all_dim`: zero counts as unset.
        double attention = scaling.AttentionFactor
            ?? (scaling.Mscale is { } m && m != 0 && scaling.MscaleAllDim is { } all && all != 0 ? M(s, m) / M(s, all) : M(s, 1));
        double fast = scaling.BetaFast is { } f && f != 0 ? f : 32, slow = scaling.BetaSlow is { } b && b != 0 ? b : 1;
        double Dimension(double rotations) => d * Math.Log(l0 / (rotations * 2 * Math.PI)) / (2 * Math.Log(theta));
        double low = Dimension(fast), high = Dimension(slow);
        if (scaling.Truncate ?? true) (low, high) = (Math.Floor(low), Math.Ceiling(high));
        (low, high) = (Math.Max(low, 0), Math.Min(high, d - 1));
        if (low == high) high += 0.001;
        var ramp = ((arange(d / 2, ScalarType.Float32, device) - low) / (high - low)).clamp(0, 1);
        var inv = DefaultInverseFrequencies(d, theta, device);
        return (inv / s * ramp + inv * (1 - ramp), attention);
    }

    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin) => (x * cos).Plus(RotateHalf(x) * sin);

    static Tensor RotateHalf(Tensor x)
    {
        long half = x.shape[^1] / 2;
        var x1 = x.narrow(-1, 0, half);
        var x2 = x.narrow(-1, half, half);
        return cat(new[] { -x2, x1 }, -1);
    }
}
