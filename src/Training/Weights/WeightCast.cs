using System.Runtime.InteropServices;

namespace RlhfActors.Training.Weights;

/// <summary>
/// Weights rounded to the dtype a receiver computes in, on their bytes: F32 → BF16 by round-to-nearest-even (the
/// rounding libtorch's <c>.to(bfloat16)</c> applies to finite values, so a sampler loading these bytes holds what it
/// would hold after casting the fp32 weights itself), BF16 → F32 exactly. Written by hand so that a policy registry
/// can serve a sampler's dtype without a device or TorchSharp.
/// </summary>
public static class WeightCast
{
    /// <summary>Every floating tensor of <paramref name="weights"/> in <paramref name="dtype"/> ("F32" or "BF16");
    /// a tensor already in it, or not floating, is returned as it is (the same instance, not a copy).</summary>
    public static IReadOnlyList<TensorBytes> To(IReadOnlyList<TensorBytes> weights, string dtype)
    {
        if (dtype is not ("F32" or "BF16"))
            throw new ArgumentException($"weights can be sent as F32 or BF16, not '{dtype}'", nameof(dtype));
        return weights.Select(t => (t.DType, dtype) switch
        {
            ("F32", "BF16") => t with { DType = "BF16", Data = ToBFloat16(t.Data) },
            ("BF16", "F32") => t with { DType = "F32", Data = ToFloat32(t.Data) },
            _ => t,
        }).ToArray();
    }

    static byte[] ToBFloat16(byte[] data)
    {
        var source = MemoryMarshal.Cast<byte, uint>(data.AsSpan());
        var result = new byte[source.Length * 2];
        var target = MemoryMarshal.Cast<byte, ushort>(result.AsSpan());
        for (var i = 0; i < source.Length; i++) target[i] = RoundToBFloat16(source[i]);
        return result;
    }

    /// <summary>The upper half of the fp32 bits, rounded to nearest with ties to even; any NaN becomes libtorch's
    /// 0x7FC0.</summary>
    static ushort RoundToBFloat16(uint bits)
    {
        if ((bits & 0x7FFFFFFFu) > 0x7F800000u) return 0x7FC0;
        var rounding = 0x7FFFu + ((bits >> 16) & 1u);
        return (ushort)((bits + rounding) >> 16);
    }

    static byte[] ToFloat32(byte[] data)
    {
        var source = MemoryMarshal.Cast<byte, ushort>(data.AsSpan());
        var result = new byte[source.Length * 4];
        var target = MemoryMarshal.Cast<byte, uint>(result.AsSpan());
        for (var i = 0; i < source.Length; i++) target[i] = (uint)source[i] << 16;
        return result;
    }
}
