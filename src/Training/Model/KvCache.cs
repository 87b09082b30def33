using static TorchSharp.torch;

namespace RlhfActors.Training.Model;

/// <summary>
/// Pre-allocated key/value cache for incremental decoding: one [B, kvHeads, capacity, headDim] buffer pair per
/// layer, filled left to right. Pre-allocation avoids re-concatenating the whole cache at every new token.
/// </summary>
public sealed class KvCache : IDisposable
{
    readonly Tensor[] keys;
    readonly Tensor[] values;
    public int Capacity { get; }
    /// <summary>Number of positions already written.</summary>
    public int Length { get; private set; }

    public KvCache(ModelConfig config, long batch, int capacity, ScalarType dtype, Device device)
    {
        Capacity = capacity;
        keys = new Tensor[config.NumHiddenLayers];
        values = new Tensor[config.NumHiddenLayers];
        for (int i = 0; i < keys.Length; i++)
        {
            keys[i] = zeros(new[] { batch, config.KeyValueHeads, capacity, config.HeadDim }, dtype, device).DetachFromDisposeScope();
            values[i] = zeros(new[] { batch, config.KeyValueHeads, capacity, config.HeadDim }, dtype, device).DetachFromDisposeScope();
        }
    }

    /// <summary>Writes this step's keys/values [B, kvHeads, t, d] of one layer at the current length and returns
    /// views of everything cached so far for that layer.</summary>
    public (Tensor Keys, Tensor Values) Append(int layer, Tensor k, Tensor v)
    {
        int t = (int)k.shape[2];
        if (Length + t > Capacity)
            throw new InvalidOperationException($"KV cache full: {Length} + {t} > capacity {Capacity}");
        keys[layer].narrow(2, Length, t).copy_(k);
        values[layer].narrow(2, Length, t).copy_(v);
        int upTo = Length + t;
        return (keys[layer].narrow(2, 0, upTo), values[layer].narrow(2, 0, upTo));
    }

    /// <summary>Called once per forward pass after every layer has appended.</summary>
    public void Advance(int t) => Length += t;

    public void Dispose()
    {
        foreach (var t in keys) t.Dispose();
        foreach (var t in values) t.Dispose();
    }
}
