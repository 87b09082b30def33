using System.Collections.Immutable;
using System.Runtime.InteropServices;
using RlhfActors.Abstractions.Tensors;
using RlhfActors.Training.Weights;

namespace RlhfActors.Grains.Tensors;

/// <summary>Training's <see cref="TensorBytes"/> ⇄ the wire's <see cref="TensorPayload"/>. Both directions reuse the
/// byte arrays instead of copying them: weights can be hundreds of megabytes.</summary>
public static class TensorPayloadMapping
{
    public static TensorPayload ToPayload(this TensorBytes tensor) => new()
    {
        Name = tensor.Name,
        DType = tensor.DType,
        Shape = [.. tensor.Shape],
        Data = tensor.Data,
    };

    public static TensorBytes ToTensorBytes(this TensorPayload payload)
    {
        // A payload that came off the wire owns a whole array; only a sliced payload needs a copy.
        var data = MemoryMarshal.TryGetArray(payload.Data, out var segment)
                   && segment.Offset == 0 && segment.Count == segment.Array!.Length
            ? segment.Array
            : payload.Data.ToArray();
        return new TensorBytes(payload.Name, payload.DType, payload.Shape.ToArray(), data);
    }

    public static ImmutableArray<TensorPayload> ToPayloads(this IEnumerable<TensorBytes> tensors) => [.. tensors.Select(ToPayload)];

    public static IReadOnlyList<TensorBytes> ToTensorBytes(this IEnumerable<TensorPayload> payloads) => [.. payloads.Select(ToTensorBytes)];
}
