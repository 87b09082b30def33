namespace RlhfActors.Training.IO;

/// <summary>The safetensors dtype names this project reads and writes, and their element sizes.</summary>
public static class SafeTensorsDTypes
{
    static readonly Dictionary<string, int> ElementSizes = new(StringComparer.Ordinal)
    {
        ["F64"] = 8, ["F32"] = 4, ["BF16"] = 2, ["F16"] = 2,
        ["I64"] = 8, ["I32"] = 4, ["I16"] = 2, ["I8"] = 1, ["U8"] = 1, ["BOOL"] = 1,
    };

    public static IReadOnlyCollection<string> Supported => ElementSizes.Keys;

    public static bool IsSupported(string dtype) => ElementSizes.ContainsKey(dtype);

    /// <summary>Bytes per element; throws <see cref="ArgumentException"/> for a dtype not in <see cref="Supported"/>.</summary>
    public static int ElementSize(string dtype) =>
        ElementSizes.TryGetValue(dtype, out var size)
            ? size
            : throw new ArgumentException($"unsupported safetensors dtype '{dtype}'; supported: {string.Join(", ", Supported)}", nameof(dtype));

    /// <summary>product(shape) × element size, or null when it does not fit in a long.</summary>
    public static long? ByteCount(string dtype, IReadOnlyList<long> shape)
    {
        try
        {
            long count = ElementSize(dtype);
            foreach (var d in shape) count = checked(count * d);
            return count;
        }
        catch (OverflowException) { return null; }
    }
}
