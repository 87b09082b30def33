using RlhfActors.Training.Model;
using static TorchSharp.torch;

namespace RlhfActors.Tests.Model;

/// <summary>
/// config.json's <c>rope_scaling</c> against a scalar transcription, in doubles, of transformers'
/// <c>modeling_rope_utils.py</c> (written here from HF's formulas, not from the production code): the inverse
/// frequencies of linear, dynamic NTK, llama3 and yarn scaling (and yarn's attention factor), and the cos/sin a forward pass rotates with; the config
/// reaches the decoder's forward; a type not implemented is refused by name, and the section survives a save.
/// <para>Tolerance: the production code computes in fp32 as transformers does, so the inverse frequencies may differ
/// from the doubles by a few ulps (relative 1e-5 allowed), and cos/sin of angles up to 512 radians by the fp32
/// rounding of position × frequency (1e-4 allowed).</para>
/// </summary>
public sealed class RopeScalingTests
{
    // Llama-3.1-8B's rotary setup.
    static ModelConfig Llama31(RopeScaling? scaling) => new()
    {
        VocabSize = 64, HiddenSize = 4096, IntermediateSize = 64, NumHiddenLayers = 1, NumAttentionHeads = 32, NumKeyValueHeads = 8,
        RopeTheta = 500000, MaxPositionEmbeddings = 131072, RopeScaling = scaling,
    };

    static readonly RopeScaling Llama3 = new() { RopeType = "llama3", Factor = 8, LowFreqFactor = 1, HighFreqFactor = 4, OriginalMaxPositionEmbeddings = 8192 };

    // --- transformers, transcribed -----------------------------------------------------------------------------

    static double[] HfDefault(int dim, double theta) => [.. Enumerable.Range(0, dim / 2).Select(i => 1.0 / Math.Pow(theta, 2.0 * i / dim))];

    static double[] HfLinear(int dim, double theta, double factor) => [.. HfDefault(dim, theta).Select(f => f / factor)];

    static double[] HfDynamic(int dim, double theta, int maxPositions, double factor, long seqLen)
    {
        double seq = seqLen > maxPositions ? seqLen : maxPositions;
        double scaledBase = theta * Math.Pow(factor * seq / maxPositions - (factor - 1), dim / (dim - 2.0));
        return HfDefault(dim, scaledBase);
    }

    static double[] HfLlama3(int dim, double theta, double factor, double low, double high, double oldContext)
    {
        double lowWavelen = oldContext / low, highWavelen = oldContext / high;
        return [.. HfDefault(dim, theta).Select(f =>
        {
            double wavelen = 2 * Math.PI / f;
            if (wavelen < highWavelen) return f;
            if (wavelen > lowWavelen) return f / factor;
            double smooth = (oldContext / wavelen - low) / (high - low);
            return (1 - smooth) * f / factor + smooth * f;
        })];
    }

    /// <summary>transformers' <c>_compute_yarn_parameters</c> (5.x), in doubles: (inverse frequencies, attention factor).</summary>
    static (double[] InvFreq, double Attention) HfYarn(int dim, double theta, double factor, double originalContext,
        double? attentionFactor = null, double? mscale = null, double? mscaleAllDim = null, bool truncate = true)
    {
        static double GetMscale(double scale, double m) => scale <= 1 ? 1.0 : 0.1 * m * Math.Log(scale) + 1.0;
        double attention = attentionFactor ?? (mscale is > 0 && mscaleAllDim is > 0
            ? GetMscale(factor, mscale.Value) / GetMscale(factor, mscaleAllDim.Value)
            : GetMscale(factor, 1));
        double CorrectionDim(double rotations) => dim * Math.Log(originalContext / (rotations * 2 * Math.PI)) / (2 * Math.Log(theta));
        double low = CorrectionDim(32), high = CorrectionDim(1);
        if (truncate) { low = Math.Floor(low); high = Math.Ceiling(high); }
        low = Math.Max(low, 0); high = Math.Min(high, dim - 1);
        if (low == high) high += 0.001;
        var inv = new double[dim / 2];
        for (int i = 0; i < dim / 2; i++)
        {
            double posFreq = Math.Pow(theta, 2.0 * i / dim);
            double extrapolationFactor = 1 - Math.Clamp((i - low) / (high - low), 0, 1);
            inv[i] = 1.0 / (factor * posFreq) * (1 - extrapolationFactor) + 1.0 / posFreq * extrapolationFactor;
        }
        return (inv, attention);
    }

    static float[] Production(ModelConfig config, long seqLen = 0)
    {
        using var scope = NewDisposeScope();
        return RotaryEmbedding.InverseFrequencies(config, seqLen, CPU).InvFreq.data<float>().ToArray();
    }

    static void AssertClose(double[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(actual[i] - expected[i]) <= 1e-5 * expected[i], $"{what}: inv_freq[{i}] is {actual[i]:E6}, transformers gives {expected[i]:E6}");
    }

    [Fact]
    public void Each_type_gives_the_inverse_frequencies_transformers_computes()
    {
        AssertClose(HfDefault(128, 500000), Production(Llama31(null)), "default");
        AssertClose(HfLinear(128, 500000, 4), Production(Llama31(new RopeScaling { RopeType = "linear", Factor = 4 })), "linear");
        var dynamic = Llama31(new RopeScaling { LegacyType = "dynamic", Factor = 2 }) with { MaxPositionEmbeddings = 4096 };
        AssertClose(HfDynamic(128, 500000, 4096, 2, 1000), Production(dynamic, seqLen: 1000), "dynamic within the context");
        AssertClose(HfDynamic(128, 500000, 4096, 2, 10000), Production(dynamic, seqLen: 10000), "dynamic past the context");
        var llama3 = HfLlama3(128, 500000, 8, 1, 4, 8192);
        AssertClose(llama3, Production(Llama31(Llama3)), "llama3");
        // The three bands are all there: kept, divided by the factor, and smoothed between.
        var plain = HfDefault(128, 500000);
        Assert.Contains(llama3.Select((f, i) => f / plain[i]), r => r == 1);
        Assert.Contains(llama3.Select((f, i) => f / plain[i]), r => Math.Abs(r - 1.0 / 8) < 1e-12);
        Assert.Contains(llama3.Select((f, i) => f / plain[i]), r => r > 1.0 / 8 + 1e-6 && r < 1 - 1e-6);
    }

    [Fact]
    public void Yarn_gives_the_frequencies_and_the_attention_factor_transformers_computes()
    {
        // Qwen2.5-7B-Instruct's long-context setting (head_dim 128, θ 1e6, factor 4 over 32768 positions).
        var qwen = Llama31(new RopeScaling { RopeType = "yarn", Factor = 4, OriginalMaxPositionEmbeddings = 32768 }) with { RopeTheta = 1_000_000, MaxPositionEmbeddings = 131072 };
        var (inv, attention) = HfYarn(128, 1_000_000, 4, 32768);
        AssertClose(inv, Production(qwen), "yarn (Qwen2.5)");
        Assert.Equal(attention, ProductionAttention(qwen), 12);
        Assert.Equal(0.1 * Math.Log(4) + 1, attention, 12);
        // The ramp really has both ends and a middle: fast dimensions kept, slow ones divided by the factor.
        var plain = HfDefault(128, 1_000_000);
        Assert.Contains(inv.Select((f, i) => f / plain[i]), r => Math.Abs(r - 1) < 1e-12);
        Assert.Contains(inv.Select((f, i) => f / plain[i]), r => Math.Abs(r - 0.25) < 1e-12);
        Assert.Contains(inv.Select((f, i) => f / plain[i]), r => r > 0.25 + 1e-6 && r < 1 - 1e-6);

        // DeepSeek-style mscale / mscale_all_dim, the legacy "type" key, and gpt-oss's truncate: false.
        var deepseek = Llama31(new RopeScaling { LegacyType = "yarn", Factor = 40, OriginalMaxPositionEmbeddings = 4096, Mscale = 0.707, MscaleAllDim = 1, BetaFast = 32, BetaSlow = 1 }) with { RopeTheta = 10000, MaxPositionEmbeddings = 163840 };
        var expected = HfYarn(128, 10000, 40, 4096, mscale: 0.707, mscaleAllDim: 1);
        AssertClose(expected.InvFreq, Production(deepseek), "yarn (mscale)");
        Assert.Equal(expected.Attention, ProductionAttention(deepseek), 12);
        var untruncated = qwen with { RopeScaling = qwen.RopeScaling! with { Truncate = false, AttentionFactor = 1.25 } };
        expected = HfYarn(128, 1_000_000, 4, 32768, attentionFactor: 1.25, truncate: false);
        AssertClose(expected.InvFreq, Production(untruncated), "yarn (truncate false)");
        Assert.Equal(1.25, ProductionAttention(untruncated));
    }

    [Fact]
    public void Yarn_scales_cos_and_sin_by_its_attention_factor()
    {
        var config = Llama31(new RopeScaling { RopeType = "yarn", Factor = 4, OriginalMaxPositionEmbeddings = 32768 }) with { RopeTheta = 1_000_000 };
        var (inv, attention) = HfYarn(128, 1_000_000, 4, 32768);
        var positions = new long[] { 0, 3, 300 };
        using var scope = NewDisposeScope();
        var (cos, sin) = RotaryEmbedding.CosSin(tensor(positions).unsqueeze(0), config, ScalarType.Float32);
        var c = cos.squeeze(0).squeeze(0).data<float>().ToArray();
        var s = sin.squeeze(0).squeeze(0).data<float>().ToArray();
        for (int p = 0; p < positions.Length; p++)
            for (int j = 0; j < 128; j++)
            {
                double angle = positions[p] * inv[j % 64];
                Assert.True(Math.Abs(c[p * 128 + j] - attention * Math.Cos(angle)) <= 1e-4, $"cos at position {positions[p]}, dim {j}");
                Assert.True(Math.Abs(s[p * 128 + j] - attention * Math.Sin(angle)) <= 1e-4, $"sin at position {positions[p]}, dim {j}");
            }
    }

    static double ProductionAttention(ModelConfig config)
    {
        using var scope = NewDisposeScope();
        return RotaryEmbedding.InverseFrequencies(config, 0, CPU).AttentionFactor;
    }

    [Fact]
    public void The_forward_rotates_with_the_scaled_frequencies()
    {
        var config = Llama31(Llama3);
        var positions = new long[] { 0, 1, 7, 100, 511 };
        using var scope = NewDisposeScope();
        var (cos, sin) = RotaryEmbedding.CosSin(tensor(positions).unsqueeze(0), config, ScalarType.Float32);
        var c = cos.squeeze(0).squeeze(0).data<float>().ToArray();
        var s = sin.squeeze(0).squeeze(0).data<float>().ToArray();
        var inv = HfLlama3(128, 500000, 8, 1, 4, 8192);
        for (int p = 0; p < positions.Length; p++)
            for (int j = 0; j < 128; j++)
            {
                double angle = positions[p] * inv[j % 64];
                Assert.True(Math.Abs(c[p * 128 + j] - Math.Cos(angle)) <= 1e-4, $"cos at position {positions[p]}, dim {j}");
                Assert.True(Math.Abs(s[p * 128 + j] - Math.Sin(angle)) <= 1e-4, $"sin at position {positions[p]}, dim {j}");
            }
    }

    [Fact]
    public void The_decoder_applies_the_scaling_of_its_config()
    {
        var plain = TinyModels.Llama() with { MaxPositionEmbeddings = 64 };
        var scaled = plain with { RopeScaling = new RopeScaling { RopeType = "linear", Factor = 4 } };
        using var scope = NewDisposeScope();
        using var a = TinyModels.Create(plain, seed: 5);
        using var b = TinyModels.Create(scaled, seed: 5);
        var ids = tensor(new long[] { 3, 5, 7, 9, 11, 13 }).unsqueeze(0);
        var first = a.Forward(ids);
        var second = b.Forward(ids);
        // Position 0 has no rotation either way; later positions rotate by a quarter of the angle.
        Assert.True(first.narrow(1, 0, 1).allclose(second.narrow(1, 0, 1), rtol: 0, atol: 1e-6), "position 0 must not depend on the scaling");
        Assert.False(first.narrow(1, 1, 5).allclose(second.narrow(1, 1, 5), rtol: 1e-4, atol: 1e-5), "rope_scaling did not reach the forward");
    }

    [Theory]
    [InlineData("""{"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 0}""", "field 'rope_scaling.original_max_position_embeddings' must be > 0")]
    [InlineData("""{"rope_type": "yarn", "original_max_position_embeddings": 32768}""", "field 'rope_scaling.factor' must be a number >= 1")]
    [InlineData("""{"type": "longrope", "long_factor": [1.0]}""", "field 'rope_scaling.type' is 'longrope', which is not implemented")]
    [InlineData("""{"rope_type": "linear", "factor": 0.5}""", "field 'rope_scaling.factor' must be a number >= 1")]
    [InlineData("""{"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 4.0, "high_freq_factor": 1.0, "original_max_position_embeddings": 8192}""", "field 'rope_scaling.high_freq_factor' must be greater")]
    public void A_scaling_not_implemented_or_incomplete_is_refused_by_name(string scaling, string expected)
    {
        var json = $$"""{"model_type": "llama", "vocab_size": 16, "hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "rope_scaling": {{scaling}}}""";
        var e = Assert.Throws<InvalidDataException>(() => ModelConfig.Parse(json, "m/config.json"));
        Assert.StartsWith("m/config.json: ", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void The_section_and_its_unknown_keys_survive_a_save()
    {
        const string json = """{"model_type": "llama", "vocab_size": 16, "hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192, "note": "kept"}}""";
        var saved = ModelConfig.Parse(ModelConfig.Parse(json, "a").ToJson(), "b");
        Assert.Equal("llama3", saved.RopeScaling!.Type);
        Assert.Equal((8.0, 1.0, 4.0, 8192), (saved.RopeScaling.Factor!.Value, saved.RopeScaling.LowFreqFactor!.Value, saved.RopeScaling.HighFreqFactor!.Value, saved.RopeScaling.OriginalMaxPositionEmbeddings!.Value));
        Assert.Equal("kept", saved.RopeScaling.Other!["note"].GetString());
    }
}
