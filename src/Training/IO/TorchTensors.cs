using RlhfActors.Training.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace RlhfActors.Training.IO;

/// <summary>Copies between <see cref="TensorBytes"/> (safetensors dtype names, little-endian bytes) and TorchSharp
/// tensors. Bytes are copied raw, never through float conversions, so BF16/F16 round trips are bit-exact.</summary>
public static class TorchTensors
{
    static readonly (string Name, ScalarType Type)[] DTypes =
    {
        ("F64", ScalarType.Float64), ("F32", ScalarType.Float32), ("BF16", ScalarType.BFloat16), ("F16", ScalarType.Float16),
        ("I64", ScalarType.Int64), ("I32", ScalarType.Int32), ("I16", ScalarType.Int16), ("I8", ScalarType.Int8),
        ("U8", ScalarType.Byte), ("BOOL", ScalarType.Bool),
    };

    public static ScalarType ToScalarType(string dtype)
    {
        foreach (var (name, type) in DTypes)
            if (name == dtype) return type;
        throw new ArgumentException($"dtype '{dtype}' has no TorchSharp equivalent here; supported: {string.Join(", ", DTypes.Select(d => d.Name))}", nameof(dtype));
    }

    public static string ToSafeTensorsDType(ScalarType type)
    {
        foreach (var (name, t) in DTypes)
            if (t == type) return name;
        throw new ArgumentException($"TorchSharp dtype {type} cannot be stored in safetensors here; supported: {string.Join(", ", DTypes.Select(d => d.Type))}", nameof(type));
    }

    /// <summary>A new tensor (owned by the caller's dispose scope) holding a copy of <paramref name="t"/>'s bytes.</summary>
    public static Tensor ToTorch(TensorBytes t, Device? device = null)
    {
        ArgumentNullException.ThrowIfNull(t);
        EnsureLittleEndian();
        var type = ToScalarType(t.DType);
        var expected = SafeTensorsDTypes.ByteCount(t.DType, t.Shape);
        if (t.Shape.Any(d => d < 0) || expected != t.Data.Length)
            throw new ArgumentException($"tensor '{t.Name}': {t.Data.Length} bytes do not fit {t.DType} shape [{string.Join(", ", t.Shape)}]", nameof(t));

        // empty + bytes setter: libtorch allocates the storage with the right dtype and we memcpy into it.
        var cpu = empty(t.Shape, type, CPU);
        if (t.Data.Length > 0) cpu.bytes = t.Data;
        if (device is null || device.type == DeviceType.CPU) return cpu;
        using (cpu) return cpu.to(device);
    }

    /// <summary>Bytes of a contiguous CPU copy of <paramref name="t"/>; leaves <paramref name="t"/> untouched.</summary>
    public static TensorBytes FromTorch(string name, Tensor t)
    {
        ArgumentNullException.ThrowIfNull(t);
        EnsureLittleEndian();
        var dtype = ToSafeTensorsDType(t.dtype);
        // The scope disposes the intermediate views/copies only; t was made outside it and survives.
        using var scope = NewDisposeScope();
        var host = t.detach().cpu().contiguous();
        var data = host.numel() == 0 ? Array.Empty<byte>() : host.bytes.ToArray();
        return new TensorBytes(name, dtype, host.shape.ToArray(), data);
    }

    static void EnsureLittleEndian()
    {
        // safetensors is little-endian; the raw copies above assume the host is too.
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("safetensors tensors are little-endian; big-endian hosts are not supported");
    }
}
