using System.Runtime.InteropServices;
using RlhfActors.Training.IO;

namespace RlhfActors.Training.Weights;

/// <summary>How one tensor changed between two versions: not at all, at a few elements, or enough that sending it whole
/// is smaller.</summary>
public enum TensorChange { Unchanged, Sparse, Full }

/// <summary>One tensor of a <see cref="WeightDelta"/>. Sparse: the element indices that changed (ascending) and their
/// new values' bytes, element after element. Full: the whole new tensor's bytes. Unchanged: nothing.</summary>
public sealed record TensorDelta(string Name, string DType, long[] Shape, TensorChange Change, int[] Indices, byte[] Values)
{
    /// <summary>The bytes this delta carries: 4 per index plus the values.</summary>
    public long EncodedBytes => 4L * Indices.Length + Values.Length;
}

/// <summary>
/// Delta sync's encoding (issue 16): a new policy version as only the elements that changed since a version the
/// receiver holds, compared bit for bit in the dtype the receiver computes in (a bf16 sampler sees a bf16 element
/// change only when the fp32 master moved far enough to round differently). Per tensor, the smaller of the sparse form
/// (int32 index + value per changed element) and the full tensor is chosen, so a delta is never larger than a full
/// copy. <see cref="Apply"/> rebuilds the new version bit-exactly. Written by hand: no available package encodes
/// safetensors-style tensors this way.
/// </summary>
public static class WeightDelta
{
    /// <summary>The change from <paramref name="from"/> to <paramref name="to"/>: the same tensors (names, dtypes,
    /// shapes), in any order.</summary>
    public static IReadOnlyList<TensorDelta> Encode(IReadOnlyList<TensorBytes> from, IReadOnlyList<TensorBytes> to)
    {
        var old = ByName(from, "the held version");
        if (from.Count != to.Count)
            throw new ArgumentException($"the new version has {to.Count} tensors, the held one {from.Count}");
        var result = new TensorDelta[to.Count];
        for (var t = 0; t < to.Count; t++)
        {
            var next = to[t];
            if (!old.TryGetValue(next.Name, out var previous))
                throw new ArgumentException($"tensor '{next.Name}' is not in the held version");
            if (previous.DType != next.DType || !previous.Shape.SequenceEqual(next.Shape) || previous.Data.Length != next.Data.Length)
                throw new ArgumentException($"tensor '{next.Name}' is {next.DType} {Show(next.Shape)} in the new version, {previous.DType} {Show(previous.Shape)} in the held one");
            result[t] = EncodeTensor(previous, next);
        }
        return result;
    }

    /// <summary>The new version: <paramref name="from"/> with <paramref name="delta"/> applied. Throws when the delta
    /// does not fit the held version (another base version, other shapes).</summary>
    public static IReadOnlyList<TensorBytes> Apply(IReadOnlyList<TensorBytes> from, IReadOnlyList<TensorDelta> delta)
    {
        var old = ByName(from, "the held version");
        return delta.Select(d =>
        {
            if (!old.TryGetValue(d.Name, out var previous) || previous.DType != d.DType || !previous.Shape.SequenceEqual(d.Shape))
                throw new ArgumentException($"the delta's tensor '{d.Name}' ({d.DType} {Show(d.Shape)}) does not match the held version");
            switch (d.Change)
            {
                case TensorChange.Unchanged:
                    return previous;
                case TensorChange.Full:
                    return previous with { Data = d.Values };
                default:
                    var size = ElementSize(d.DType);
                    if (d.Values.Length != d.Indices.Length * size)
                        throw new ArgumentException($"the delta's tensor '{d.Name}' has {d.Indices.Length} indices but {d.Values.Length} value bytes");
                    var data = (byte[])previous.Data.Clone();
                    var count = data.Length / size;
                    for (var i = 0; i < d.Indices.Length; i++)
                    {
                        var index = d.Indices[i];
                        if ((uint)index >= (uint)count) throw new ArgumentException($"the delta's tensor '{d.Name}' names element {index} of {count}");
                        Buffer.BlockCopy(d.Values, i * size, data, index * size, size);
                    }
                    return previous with { Data = data };
            }
        }).ToArray();
    }

    /// <summary>What the delta carries, against a full copy of the new version.</summary>
    public static (long DeltaBytes, long FullBytes) Size(IReadOnlyList<TensorDelta> delta, IReadOnlyList<TensorBytes> to) =>
        (delta.Sum(d => d.EncodedBytes), to.Sum(t => (long)t.Data.Length));

    static TensorDelta EncodeTensor(TensorBytes previous, TensorBytes next)
    {
        var size = ElementSize(next.DType);
        var changed = ChangedElements(previous.Data, next.Data, size);
        var full = (long)next.Data.Length;
        if (changed.Count == 0) return new TensorDelta(next.Name, next.DType, next.Shape, TensorChange.Unchanged, [], []);
        if ((long)changed.Count * (4 + size) >= full || next.Data.Length / size > int.MaxValue)
            return new TensorDelta(next.Name, next.DType, next.Shape, TensorChange.Full, [], next.Data);
        var values = new byte[changed.Count * size];
        for (var i = 0; i < changed.Count; i++) Buffer.BlockCopy(next.Data, changed[i] * size, values, i * size, size);
        return new TensorDelta(next.Name, next.DType, next.Shape, TensorChange.Sparse, [.. changed], values);
    }

    /// <summary>Indices of the elements whose bits differ, compared as whole 2-, 4- or 8-byte words.</summary>
    static List<int> ChangedElements(byte[] a, byte[] b, int size)
    {
        var changed = new List<int>();
        switch (size)
        {
            case 2: Collect(MemoryMarshal.Cast<byte, ushort>(a), MemoryMarshal.Cast<byte, ushort>(b), changed); break;
            case 4: Collect(MemoryMarshal.Cast<byte, uint>(a), MemoryMarshal.Cast<byte, uint>(b), changed); break;
            case 8: Collect(MemoryMarshal.Cast<byte, ulong>(a), MemoryMarshal.Cast<byte, ulong>(b), changed); break;
            default: Collect<byte>(a, b, changed); break;
        }
        return changed;
    }

    static void Collect<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, List<int> changed) where T : IEquatable<T>
    {
        for (var i = 0; i < a.Length; i++)
            if (!a[i].Equals(b[i])) changed.Add(i);
    }

    static int ElementSize(string dtype) => SafeTensorsDTypes.ElementSize(dtype);

    static Dictionary<string, TensorBytes> ByName(IReadOnlyList<TensorBytes> tensors, string what)
    {
        var byName = new Dictionary<string, TensorBytes>(StringComparer.Ordinal);
        foreach (var t in tensors)
            if (!byName.TryAdd(t.Name, t)) throw new ArgumentException($"{what} holds tensor '{t.Name}' twice");
        return byName;
    }

    static string Show(long[] shape) => $"[{string.Join(", ", shape)}]";
}
