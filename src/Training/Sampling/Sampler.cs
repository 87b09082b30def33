using TorchSharp;
using RlhfActors.Training.Model;
using static TorchSharp.torch;

namespace RlhfActors.Training.Sampling;

/// <summary>
/// Batched autoregressive generation. Prompts of different lengths are left-padded so every row's next token
/// sits in the same column; positions restart at 0 at each row's first real token, and a key mask keeps pads
/// out of attention. With the KV cache each step feeds one token per row; without it (for tests and the
/// benchmark) each step re-runs the whole sequence.
/// </summary>
public static class Sampler
{
    public static GenerationResult Generate(DecoderModel model, IReadOnlyList<int[]> prompts, SamplingOptions options,
        bool useKvCache = true, int padId = 0)
    {
        if (prompts.Count == 0) return new GenerationResult(Array.Empty<int[]>(), Array.Empty<float[]>());
        if (prompts.Any(p => p.Length == 0)) throw new ArgumentException("every prompt needs at least one token", nameof(prompts));
        if (options.MaxNewTokens <= 0) throw new ArgumentException("MaxNewTokens must be > 0", nameof(options));
        if (!options.Greedy && options.Temperature <= 0) throw new ArgumentException("Temperature must be > 0 when sampling", nameof(options));

        using var outer = NewDisposeScope();
        using var _ = no_grad();
        var device = model.parameters().First().device;
        int batch = prompts.Count;
        int promptWidth = prompts.Max(p => p.Length);
        int total = promptWidth + options.MaxNewTokens;
        if (total > model.Config.MaxPositionEmbeddings)
            throw new ArgumentException($"prompt ({promptWidth}) + max new tokens ({options.MaxNewTokens}) exceeds max_position_embeddings ({model.Config.MaxPositionEmbeddings})");

        var ids = new long[batch, total];
        var keyValid = new bool[batch, total];
        var positions = new long[batch, total];
        var lengths = new int[batch];
        for (int b = 0; b < batch; b++)
        {
            int offset = promptWidth - prompts[b].Length;
            lengths[b] = prompts[b].Length;
            for (int j = 0; j < total; j++) ids[b, j] = padId;
            for (int j = 0; j < prompts[b].Length; j++)
            {
                ids[b, offset + j] = prompts[b][j];
                keyValid[b, offset + j] = true;
                positions[b, offset + j] = j;
            }
            for (int s = 0; s < options.MaxNewTokens; s++) positions[b, promptWidth + s] = prompts[b].Length + s;
        }

        var stop = new HashSet<int>(options.StopTokens);
        var generator = new Generator((ulong)options.Seed, device);
        var newIds = Enumerable.Range(0, batch).Select(_ => new List<int>()).ToArray();
        var newLogProbs = Enumerable.Range(0, batch).Select(_ => new List<float>()).ToArray();
        var finished = new bool[batch];

        using var cache = useKvCache ? new KvCache(model.Config, batch, total, model.ComputeType, device) : null;
        Tensor lastLogits;
        using (var prefill = NewDisposeScope())
        {
            lastLogits = Step(model, ids, keyValid, positions, 0, promptWidth, cache, device).MoveToOuterDisposeScope();
        }

        for (int s = 0; s < options.MaxNewTokens; s++)
        {
            using var stepScope = NewDisposeScope();
            var (tokens, logProbs) = ChooseNext(lastLogits, options, generator);
            for (int b = 0; b < batch; b++)
            {
                if (finished[b]) continue;
                newIds[b].Add((int)tokens[b]);
                newLogProbs[b].Add(logProbs[b]);
                if (stop.Contains((int)tokens[b])) finished[b] = true;
            }
            if (finished.All(f => f) || s == options.MaxNewTokens - 1) break;

            int column = promptWidth + s;
            for (int b = 0; b < batch; b++)
            {
                ids[b, column] = finished[b] ? padId : tokens[b];
                keyValid[b, column] = true;
            }
            lastLogits.Dispose();
            lastLogits = useKvCache
                ? Step(model, ids, keyValid, positions, column, 1, cache, device).MoveToOuterDisposeScope()
                : Step(model, ids, keyValid, positions, 0, column + 1, null, device).MoveToOuterDisposeScope();
        }
        lastLogits.Dispose();
        return new GenerationResult(newIds.Select(l => l.ToArray()).ToArray(), newLogProbs.Select(l => l.ToArray()).ToArray());
    }

    /// <summary>Runs columns [start, start+count) and returns the fp32 logits of the last one, [B, V].</summary>
    static Tensor Step(DecoderModel model, long[,] ids, bool[,] keyValid, long[,] positions, int start, int count,
        KvCache? cache, Device device)
    {
        int batch = ids.GetLength(0);
        var input = Slice(ids, start, count, device);
        var pos = Slice(positions, start, count, device);
        var mask = AttentionMask(keyValid, start, count, device);
        var logits = model.Forward(input, pos, mask, cache);
        return logits.select(1, count - 1);
    }

    /// <summary>bool [B, 1, count, start+count]: query i (column start+i) may see valid keys at columns ≤ start+i.
    /// Each query also sees itself, so a padded query row never has every key masked (which would give NaN).</summary>
    internal static Tensor AttentionMask(bool[,] keyValid, int start, int count, Device device)
    {
        int batch = keyValid.GetLength(0);
        int keys = start + count;
        var data = new bool[batch * count * keys];
        for (int b = 0; b < batch; b++)
        for (int i = 0; i < count; i++)
        for (int j = 0; j <= start + i; j++)
            data[(b * count + i) * keys + j] = keyValid[b, j] || j == start + i;
        return tensor(data, new long[] { batch, 1, count, keys }, device: device);
    }

    static Tensor Slice(long[,] source, int start, int count, Device device)
    {
        int batch = source.GetLength(0);
        var data = new long[batch * count];
        for (int b = 0; b < batch; b++)
        for (int j = 0; j < count; j++)
            data[b * count + j] = source[b, start + j];
        return tensor(data, new long[] { batch, count }, device: device);
    }

    /// <summary>Picks each row's next token; returns the tokens and their log-probs under log_softmax(logits / T).</summary>
    static (long[] Tokens, float[] LogProbs) ChooseNext(Tensor logits, SamplingOptions options, Generator generator)
    {
        // A Scalar held to the end of this call: a temporary one could be finalized mid-call (KeptScalars).
        using Scalar temperature = options.Greedy ? 1.0 : options.Temperature;
        var scaled = logits.div(temperature);
        var logProbs = scaled.log_softmax(-1);
        Tensor chosen;
        if (options.Greedy)
        {
            chosen = logits.argmax(-1);
        }
        else
        {
            var filtered = TokenFilters.TopP(TokenFilters.TopK(scaled, options.TopK), options.TopP);
            chosen = filtered.softmax(-1).multinomial(1, generator: generator).squeeze(-1);
        }
        var picked = logProbs.gather(-1, chosen.unsqueeze(-1)).squeeze(-1);
        return (chosen.cpu().data<long>().ToArray(), picked.cpu().data<float>().ToArray());
    }
}
