using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace RlhfActors.Training.Weights;

/// <summary>Whether weights hold only finite numbers, checked on their bytes (safetensors layout: little-endian F32,
/// BF16, F16), so a checkpoint of NaN or infinite weights is never written. Written by hand because it reads the
/// serialized bytes that are about to be written, not tensors.</summary>
public static class FiniteWeights
{
    /// <summary>The first tensor holding a NaN or an infinity, with the index of that element; null when all are finite.
    /// Integer and quantized tensors are skipped.</summary>
    public static (string Name, long Index)? FirstNonFinite(IEnumerable<TensorBytes> tensors)
    {
        foreach (var t in tensors)
        {
            var index = t.DType switch
            {
                "F32" => FirstNonFinite32(t.Data),
                "BF16" => FirstNonFinite16(t.Data, exponentMask: 0x7F80),
                "F16" => FirstNonFinite16(t.Data, exponentMask: 0x7C00),
                _ => -1,
            };
            if (index >= 0) return (t.Name, index);
        }
        return null;
    }

    static long FirstNonFinite32(byte[] data)
    {
        var values = MemoryMarshal.Cast<byte, uint>(data.AsSpan(0, data.Length / 4 * 4));
        for (var i = 0; i < values.Length; i++)
        {
            var bits = BitConverter.IsLittleEndian ? values[i] : BinaryPrimitives.ReverseEndianness(values[i]);
            if ((bits & 0x7F800000u) == 0x7F800000u) return i; // exponent all ones: infinity or NaN
        }
        return -1;
    }

    static long FirstNonFinite16(byte[] data, ushort exponentMask)
    {
        for (var i = 0; i + 1 < data.Length; i += 2)
        {
            var bits = BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan(i));
            if ((bits & exponentMask) == exponentMask) return i / 2;
        }
        return -1;
    }
}
