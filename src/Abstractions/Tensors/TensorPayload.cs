using System.Collections.Immutable;

namespace RlhfActors.Abstractions.Tensors;

/// <summary>
/// A named tensor as bytes (little-endian, row-major) that can cross a silo boundary. <see cref="DType"/> uses
/// safetensors' names (F32, BF16, F16, I64, I32, U8). Marked <c>[Immutable]</c> so that a call between grains on
/// one silo passes the bytes by reference instead of deep-copying them: nobody may write into <see cref="Data"/>
/// after building a payload.
/// </summary>
[GenerateSerializer, Immutable, Alias("rlhf.TensorPayload")]
public sealed record TensorPayload
{
    [Id(0)] public string Name { get; init; } = "";
    [Id(1)] public string DType { get; init; } = "";
    [Id(2)] public ImmutableArray<long> Shape { get; init; } = [];
    /// <summary><see cref="ReadOnlyMemory{T}"/> of bytes has a dedicated Orleans codec (one block copy, no per-element framing).</summary>
    [Id(3)] public ReadOnlyMemory<byte> Data { get; init; }

    public long ElementCount => Shape.Aggregate(1L, (n, d) => n * d);
}
