using static TorchSharp.torch;

namespace RlhfActors.Training.Model;

/// <summary>
/// Rotary position embeddings in Hugging Face's rotate-half convention: the head dimension is split into
/// two halves (not interleaved pairs), inv_freq_i = θ^(−2i/d), and q' = q·cos + rotate_half(q)·sin.
/// cos/sin are computed in fp32 from explicit positions so left-padded batches rotate correctly.
/// </summary>
public static class RotaryEmbedding
{
    /// <summary>cos and sin of shape [B, 1, T, headDim] for positions [B, T].</summary>
    public static (Tensor Cos, Tensor Sin) CosSin(Tensor positions, int headDim, double theta, ScalarType dtype)
    {
        var invFreq = 1.0 / pow(theta, arange(0, headDim, 2, ScalarType.Float32, positions.device) / headDim);
        var freqs = positions.to(ScalarType.Float32).unsqueeze(-1) * invFreq;   // [B, T, d/2]
        var emb = cat(new[] { freqs, freqs }, -1);                                // [B, T, d]
        return (emb.cos().unsqueeze(1).to(dtype), emb.sin().unsqueeze(1).to(dtype));
    }

    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin) => x * cos + RotateHalf(x) * sin;

    static Tensor RotateHalf(Tensor x)
    {
        long half = x.shape[^1] / 2;
        var x1 = x.narrow(-1, 0, half);
        var x2 = x.narrow(-1, half, half);
        return cat(new[] { -x2, x1 }, -1);
    }
}
