using RlhfActors.Training.Model;
using RlhfActors.Training.Sampling;
using static TorchSharp.torch;

namespace RlhfActors.Bench;

/// <summary>
/// Generation throughput with and without the KV cache. Without it every new token re-runs the whole prefix,
/// so the cost per token grows with length; with it each step runs one token per row against cached keys and
/// values. The ratio at 256 new tokens is the cache's pay-off (target ≥ 10×).
/// </summary>
public static class SamplingBench
{
    const double TargetRatio = 10.0;
    const int CachedRuns = 3;

    /// <summary>Big enough that matrix products, not per-op dispatch, are a real part of each step.</summary>
    static ModelConfig Config(bool quick) => quick
        ? new ModelConfig { VocabSize = 128, HiddenSize = 128, IntermediateSize = 352, NumHiddenLayers = 2,
            NumAttentionHeads = 4, NumKeyValueHeads = 2, MaxPositionEmbeddings = 128, TieWordEmbeddings = true }
        : new ModelConfig { VocabSize = 512, HiddenSize = 512, IntermediateSize = 1408, NumHiddenLayers = 8,
            NumAttentionHeads = 8, NumKeyValueHeads = 4, MaxPositionEmbeddings = 512, TieWordEmbeddings = true };

    public static void Run(BenchOptions options)
    {
        var config = Config(options.Quick);
        int batch = 4, promptLength = 16, newTokens = options.Quick ? 32 : 256;
        var prompts = RandomPrompts(batch, promptLength, config.VocabSize, seed: 7);
        foreach (var dtype in BenchOptions.DTypes)
        {
            using var model = new DecoderModel(config, dtype);
            model.InitializeWeights(seed: 1);
            // As the samplers and evaluators hold their copies: weights stored in the compute dtype (no fp32 masters).
            model.StoreWeightsInComputeType();
            model.eval();
            string name = BenchOptions.Name(dtype);

            // Warm-up: first calls pay for lazy kernel selection and allocator growth.
            Generate(model, prompts, 8, useKvCache: true);
            Generate(model, prompts, 8, useKvCache: false);

            JsonLine.Progress($"sampling {name}: cached ×{CachedRuns}");
            double cached = Timing.Median(Enumerable.Range(0, CachedRuns)
                .Select(_ => Timing.Seconds(() => Generate(model, prompts, newTokens, useKvCache: true))).ToArray());
            // Uncached once: it is the slow one, and its per-token cost is dominated by big products, so it is stable.
            JsonLine.Progress($"sampling {name}: uncached ×1 (slow)");
            double uncached = Timing.Seconds(() => Generate(model, prompts, newTokens, useKvCache: false));

            long tokens = (long)batch * newTokens;
            foreach (var (mode, seconds) in new[] { ("kv_cache", cached), ("no_cache", uncached) })
                JsonLine.Write("sampling", ("dtype", name), ("mode", mode), ("batch", batch), ("prompt_tokens", promptLength),
                    ("new_tokens", newTokens), ("seconds", seconds), ("tokens_per_s", tokens / seconds));
            double ratio = uncached / cached;
            // The target is stated for 256 new tokens; a --quick run's ratio is a smoke figure, not judged.
            if (options.Quick)
                JsonLine.Write("sampling", ("dtype", name), ("mode", "ratio"), ("new_tokens", newTokens), ("cached_over_uncached", ratio));
            else
                JsonLine.Write("sampling", ("dtype", name), ("mode", "ratio"), ("new_tokens", newTokens),
                    ("cached_over_uncached", ratio), ("target", TargetRatio), ("meets_target", ratio >= TargetRatio));
        }
    }

    static void Generate(DecoderModel model, IReadOnlyList<int[]> prompts, int newTokens, bool useKvCache)
    {
        using var scope = NewDisposeScope();
        // Greedy with no stop tokens: every row produces exactly newTokens tokens, so runs are comparable.
        var options = new SamplingOptions { MaxNewTokens = newTokens, Greedy = true };
        var result = Sampler.Generate(model, prompts, options, useKvCache);
        if (result.Ids.Any(ids => ids.Length != newTokens))
            throw new InvalidOperationException("a row stopped early; the token count would be wrong");
    }

    static int[][] RandomPrompts(int batch, int length, int vocab, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, batch).Select(_ => Enumerable.Range(0, length).Select(_ => random.Next(3, vocab)).ToArray()).ToArray();
    }
}
