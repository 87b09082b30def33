using RlhfActors.Training.Rewards;

namespace RlhfActors.Training.Rollouts;

/// <summary>
/// G sampled completions for each of a batch of prompts, in groups of <see cref="GroupSize"/> consecutive rows, with the
/// behaviour log-probs of the policy version that produced them. Free of TorchSharp so it can cross an actor boundary.
/// </summary>
public sealed record RolloutBatch(
    IReadOnlyList<int[]> PromptIds,
    IReadOnlyList<int[]> CompletionIds,
    IReadOnlyList<float[]> BehaviourLogProbs,
    IReadOnlyList<string> Prompts,
    IReadOnlyList<string> CompletionTexts,
    IReadOnlyList<string?> References,
    IReadOnlyList<bool> Truncated,
    int GroupSize,
    long PolicyVersion)
{
    /// <summary>Each row's prompt line's other fields as a JSON object (null: none); empty when no row has any.</summary>
    public IReadOnlyList<string?> Columns { get; init; } = [];

    public int Count => PromptIds.Count;
    public int Groups => Count / GroupSize;

    /// <summary>Each row as the reward functions take it: prompt, generated text, the dataset's answer.</summary>
    public RewardRequest[] RewardRequests() =>
        Enumerable.Range(0, Count).Select(i => new RewardRequest(Prompts[i], CompletionTexts[i], References[i], Columns.Count == 0 ? null : Columns[i])).ToArray();

    /// <summary>The given rows, in that order (whole groups, for the result to stay a valid batch).</summary>
    public RolloutBatch Select(IReadOnlyList<int> rows) => this with
    {
        PromptIds = rows.Select(r => PromptIds[r]).ToArray(),
        CompletionIds = rows.Select(r => CompletionIds[r]).ToArray(),
        BehaviourLogProbs = rows.Select(r => BehaviourLogProbs[r]).ToArray(),
        Prompts = rows.Select(r => Prompts[r]).ToArray(),
        CompletionTexts = rows.Select(r => CompletionTexts[r]).ToArray(),
        References = rows.Select(r => References[r]).ToArray(),
        Truncated = rows.Select(r => Truncated[r]).ToArray(),
        Columns = Columns.Count == 0 ? [] : rows.Select(r => Columns[r]).ToArray(),
    };

    /// <summary>The rows of several batches in order (e.g. one per sampler shard). All must share the group size;
    /// the result carries the OLDEST policy version among them, so staleness is never under-counted.</summary>
    public static RolloutBatch Concat(IReadOnlyList<RolloutBatch> parts)
    {
        if (parts.Count == 0) throw new ArgumentException("nothing to concatenate", nameof(parts));
        if (parts.Count == 1) return parts[0];
        if (parts.Any(p => p.GroupSize != parts[0].GroupSize)) throw new ArgumentException("rollout shards have different group sizes");
        return new RolloutBatch(
            parts.SelectMany(p => p.PromptIds).ToArray(),
            parts.SelectMany(p => p.CompletionIds).ToArray(),
            parts.SelectMany(p => p.BehaviourLogProbs).ToArray(),
            parts.SelectMany(p => p.Prompts).ToArray(),
            parts.SelectMany(p => p.CompletionTexts).ToArray(),
            parts.SelectMany(p => p.References).ToArray(),
            parts.SelectMany(p => p.Truncated).ToArray(),
            parts[0].GroupSize,
            // Behaviour log-probs stay per row, so importance weights remain exact; only the staleness check is
            // coarsened to the oldest shard.
            parts.Min(p => p.PolicyVersion))
        {
            Columns = parts.All(p => p.Columns.Count == 0) ? [] : parts.SelectMany(p => p.Columns.Count == 0 ? new string?[p.Count] : p.Columns).ToArray(),
        };
    }
}
