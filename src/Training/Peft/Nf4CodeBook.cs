namespace RlhfActors.Training.Peft;

/// <summary>
/// The 16 values of NormalFloat4 (QLoRA, Dettmers et al. 2023, appendix E; bitsandbytes' "nf4" table, copied digit
/// for digit so weights quantised here decode the same there). They are quantiles of N(0, 1) normalised to [-1, 1]:
/// 8 positive and 7 negative quantiles joined at an exact 0, which is why the table is asymmetric — a block's zeros
/// (padding, pruned weights) must stay exactly zero, and ±1 must be exact so each block's absmax element round-trips.
/// Equal-probability levels spend more codes near 0, where N(0,1) weights are dense, than a uniform int4 grid does.
/// </summary>
public static class Nf4CodeBook
{
    /// <summary>Ascending; index i is the 4-bit code i.</summary>
    public static IReadOnlyList<float> Values { get; } = new[]
    {
        -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
        -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
        0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
        0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f,
    };

    /// <summary>The 15 decision boundaries between neighbouring codes: a normalised value is rounded to code i when
    /// Midpoints[i-1] &lt; x ≤ Midpoints[i] (torch.bucketize's convention).</summary>
    public static IReadOnlyList<float> Midpoints { get; } =
        Enumerable.Range(0, 15).Select(i => (Values[i] + Values[i + 1]) / 2).ToArray();

    /// <summary>The worst-case rounding error per unit absmax: half the widest gap between neighbours (between -1
    /// and the next code, ≈ 0.1519). |x − dequant(x)| ≤ MaxHalfGap · absmax of x's block, before scale errors.</summary>
    public static float MaxHalfGap { get; } =
        Enumerable.Range(0, 15).Max(i => (Values[i + 1] - Values[i]) / 2);

    /// <summary>The code whose value is exactly 0.</summary>
    public const int ZeroCode = 7;
}
