using System.Globalization;

namespace RlhfActors.Training.Model;

/// <summary>
/// The memory a decoder needs, estimated from its config before anything is allocated, so that a config asking for
/// terabytes (hidden_size: 1000000) is refused with the figure instead of dying in libtorch's allocator. Counts the
/// parameters of <see cref="DecoderModel"/>'s layout: embeddings (and an untied LM head), per layer q/k/v/o (grouped
/// kv heads), the SwiGLU MLP's three matrices and two RMSNorms, and the final norm.
/// </summary>
public static class ModelMemory
{
    /// <summary>Bytes per parameter to train with AdamW in fp32: weights, gradients and two moments.</summary>
    public const int TrainingBytesPerParameter = 16;

    public static long ParameterCount(ModelConfig c)
    {
        checked
        {
            long h = c.HiddenSize, heads = c.NumAttentionHeads, kv = c.NumKeyValueHeads ?? c.NumAttentionHeads, d = c.HeadDim;
            var attention = h * heads * d * 2 + h * kv * d * 2;
            var mlp = 3 * h * (long)c.IntermediateSize;
            var perLayer = attention + mlp + 2 * h + (c.QkNorm ? 2 * d : 0);
            var embeddings = (long)c.VocabSize * h * (c.TieWordEmbeddings ? 1 : 2);
            return embeddings + c.NumHiddenLayers * perLayer + h;
        }
    }

    /// <summary>Bytes of <paramref name="bytesPerParameter"/> × the parameter count; <see cref="long.MaxValue"/> when
    /// that overflows (which no machine has either).</summary>
    public static long Bytes(ModelConfig config, int bytesPerParameter)
    {
        try { return checked(ParameterCount(config) * bytesPerParameter); }
        catch (OverflowException) { return long.MaxValue; }
    }

    /// <summary>What this process may use: the machine's memory or its container's limit, as the GC sees it.</summary>
    public static long AvailableBytes => GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;

    /// <summary>Throws <see cref="InvalidDataException"/> naming <paramref name="source"/>, the parameter count and both
    /// figures when the model cannot fit.</summary>
    /// <param name="purpose">What the bytes are for, e.g. "to hold its fp32 weights".</param>
    public static void ThrowIfTooLarge(ModelConfig config, int bytesPerParameter, string purpose, string source)
    {
        var need = Bytes(config, bytesPerParameter);
        var available = AvailableBytes;
        if (need <= available) return;
        long parameters;
        try { parameters = ParameterCount(config); } catch (OverflowException) { parameters = long.MaxValue; }
        throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture,
            $"{source}: a model of {parameters:N0} parameters (hidden_size {config.HiddenSize}, {config.NumHiddenLayers} layers, vocab_size {config.VocabSize}) needs about {Show(need)} {purpose} ({bytesPerParameter} bytes per parameter); this machine has {Show(available)}"));
    }

    static string Show(long bytes) => bytes == long.MaxValue ? "more than 8 EiB"
        : bytes >= 1L << 40 ? string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 40):F1} TiB")
        : string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 30):F1} GiB");
}
