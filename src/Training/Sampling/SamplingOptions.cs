namespace RlhfActors.Training.Sampling;

/// <summary>How to pick each next token. Greedy ignores temperature / top-k / top-p.</summary>
public sealed record SamplingOptions
{
    public int MaxNewTokens { get; init; } = 64;
    public double Temperature { get; init; } = 1.0;
    /// <summary>0 = no top-k filter.</summary>
    public int TopK { get; init; }
    /// <summary>1.0 = no nucleus filter.</summary>
    public double TopP { get; init; } = 1.0;
    public bool Greedy { get; init; }
    /// <summary>Generation of a sequence ends after it emits one of these (the stop token is kept in the output).</summary>
    public IReadOnlyList<int> StopTokens { get; init; } = Array.Empty<int>();
    public long Seed { get; init; } = 1;
}

/// <summary>Per prompt: the new token ids and the log-probability of each, log_softmax(logits / temperature)
/// before any top-k / top-p filtering (temperature 1 when greedy) — the behaviour log-probs RL needs, equal to
/// what one full forward pass over prompt + completion gives.</summary>
public sealed record GenerationResult(IReadOnlyList<int[]> Ids, IReadOnlyList<float[]> LogProbs);
