using System.Collections.Immutable;

namespace RlhfActors.Abstractions.Rollouts;

/// <summary>
/// A step's rollouts, the one type in which they cross every grain boundary: a sampler returns its shard, the
/// controller merges the shards (<see cref="Concat"/>) and keeps groups (<see cref="Select"/>), and the reward,
/// reference, critic and learner grains receive this same record (the learner and critic inside their step
/// requests). G completions per prompt, in groups of <see cref="GroupSize"/> consecutive rows, with the behaviour
/// log-probs of the policy version that produced them.
/// <para>
/// Why not Training's <c>RolloutBatch</c> on the wire (an Orleans surrogate for it): the grain interfaces name their
/// argument types, so this contract assembly would then depend on Training and TorchSharp, and Training has no
/// business knowing about Orleans. So this record is the contract, and a grain whose Training code takes a
/// <c>RolloutBatch</c> wraps these very arrays in one when the call arrives (<c>RolloutMapping.ToBatch</c>, no copy).
/// </para>
/// Token ids and log-probs are small plain arrays (a few KB per step for the built-in tasks) that Orleans' own codec
/// carries. They are immutable by convention and shared, never copied: this record is [Immutable], so a call inside
/// one silo passes the same object, and merging or filtering copies row references, not rows.
/// </summary>
[GenerateSerializer, Immutable, Alias("rlhf.RolloutBatchMessage")]
public sealed record RolloutBatchMessage
{
    [Id(0)] public ImmutableArray<int[]> PromptIds { get; init; } = [];
    [Id(1)] public ImmutableArray<int[]> CompletionIds { get; init; } = [];
    [Id(2)] public ImmutableArray<float[]> BehaviourLogProbs { get; init; } = [];
    [Id(3)] public ImmutableArray<string> Prompts { get; init; } = [];
    [Id(4)] public ImmutableArray<string> CompletionTexts { get; init; } = [];
    [Id(5)] public ImmutableArray<string?> References { get; init; } = [];
    [Id(6)] public ImmutableArray<bool> Truncated { get; init; } = [];
    [Id(7)] public int GroupSize { get; init; }
    /// <summary>The policy version that sampled every row (the oldest one, after shards are merged).</summary>
    [Id(8)] public long PolicyVersion { get; init; }
    /// <summary>Generation time on the samplers' device workers (summed over merged shards).</summary>
    [Id(9)] public double Seconds { get; init; }
    /// <summary>Each row's prompt line's other fields as a JSON object (null: none), for the reward functions; empty
    /// when no row has any.</summary>
    [Id(10)] public ImmutableArray<string?> Columns { get; init; } = [];
    /// <summary>Time the samplers spent pulling and loading the policy version before generating (summed over merged
    /// shards; 0 when they already held it): the weight-sync cost of the step.</summary>
    [Id(11)] public double SyncSeconds { get; init; }

    public int Count => PromptIds.Length;
    public int Groups => GroupSize > 0 ? Count / GroupSize : 0;

    /// <summary>The given rows, in that order (whole groups, for the result to stay a valid batch). The generation time
    /// stays the whole batch's: it was spent whichever rows are kept.</summary>
    public RolloutBatchMessage Select(IReadOnlyList<int> rows) => this with
    {
        PromptIds = Pick(PromptIds, rows),
        CompletionIds = Pick(CompletionIds, rows),
        BehaviourLogProbs = Pick(BehaviourLogProbs, rows),
        Prompts = Pick(Prompts, rows),
        CompletionTexts = Pick(CompletionTexts, rows),
        References = Pick(References, rows),
        Truncated = Pick(Truncated, rows),
        Columns = Columns.IsDefaultOrEmpty ? [] : Pick(Columns, rows),
    };

    /// <summary>The rows of several batches in order (e.g. one per sampler shard). All must share the group size; the
    /// result carries the OLDEST policy version among them, so staleness is never under-counted (behaviour log-probs
    /// stay per row, so importance weights remain exact), and their summed generation time.</summary>
    public static RolloutBatchMessage Concat(IReadOnlyList<RolloutBatchMessage> parts)
    {
        if (parts.Count == 0) throw new ArgumentException("nothing to concatenate", nameof(parts));
        if (parts.Count == 1) return parts[0];
        if (parts.Any(p => p.GroupSize != parts[0].GroupSize)) throw new ArgumentException("rollout shards have different group sizes", nameof(parts));
        return new RolloutBatchMessage
        {
            PromptIds = Join(parts, p => p.PromptIds),
            CompletionIds = Join(parts, p => p.CompletionIds),
            BehaviourLogProbs = Join(parts, p => p.BehaviourLogProbs),
            Prompts = Join(parts, p => p.Prompts),
            CompletionTexts = Join(parts, p => p.CompletionTexts),
            References = Join(parts, p => p.References),
            Truncated = Join(parts, p => p.Truncated),
            Columns = parts.All(p => p.Columns.IsDefaultOrEmpty) ? [] : Join(parts, p => p.Columns.IsDefaultOrEmpty ? [.. new string?[p.Count]] : p.Columns),
            GroupSize = parts[0].GroupSize,
            PolicyVersion = parts.Min(p => p.PolicyVersion),
            Seconds = parts.Sum(p => p.Seconds),
            SyncSeconds = parts.Sum(p => p.SyncSeconds),
        };
    }

    static ImmutableArray<T> Pick<T>(ImmutableArray<T> column, IReadOnlyList<int> rows) => [.. rows.Select(r => column[r])];

    static ImmutableArray<T> Join<T>(IReadOnlyList<RolloutBatchMessage> parts, Func<RolloutBatchMessage, ImmutableArray<T>> column) =>
        [.. parts.SelectMany(p => column(p))];
}
