namespace RlhfActors.Abstractions.Experiments;

/// <summary>Running totals of a GRPO stage: what a practitioner watches (reward, KL, clipping) and what the
/// asynchronous pipeline must account for (stale, dropped and importance-corrected rollouts).</summary>
[GenerateSerializer, Immutable, Alias("rlhf.GrpoStats")]
public sealed record GrpoStats
{
    /// <summary>GRPO updates done (dropped batches not counted).</summary>
    [Id(0)] public int Steps { get; init; }
    /// <summary>Mean sampled reward of the latest batch.</summary>
    [Id(1)] public double? LastMeanReward { get; init; }
    /// <summary>Mean sampled reward over the most recent batches (up to 20): less noisy than the last one.</summary>
    [Id(2)] public double? RecentMeanReward { get; init; }
    /// <summary>Mean per-token KL to the reference of the latest update (null when β = 0: not computed).</summary>
    [Id(3)] public double? LastKl { get; init; }
    [Id(4)] public double? LastClipFraction { get; init; }
    /// <summary>Sequences trained on although sampled by an older policy version (async mode: all of them).</summary>
    [Id(5)] public long StaleRollouts { get; init; }
    /// <summary>Sequences dropped because they were more than max_staleness versions old.</summary>
    [Id(6)] public long DroppedRollouts { get; init; }
    /// <summary>Stale sequences trained with truncated importance weights.</summary>
    [Id(7)] public long CorrectedRollouts { get; init; }
    /// <summary>The oldest rollout ever trained on, in versions behind the learner.</summary>
    [Id(8)] public long MaxTrainedStaleness { get; init; }
    /// <summary>Wall time of the GRPO steps as the controller saw them (generation, scoring, update, publication).</summary>
    [Id(9)] public double StepSeconds { get; init; }
    /// <summary>Time the samplers spent generating (summed over samplers).</summary>
    [Id(10)] public double GenerationSeconds { get; init; }
    /// <summary>Time the learner spent in updates.</summary>
    [Id(11)] public double UpdateSeconds { get; init; }
    [Id(12)] public long CompletionTokens { get; init; }
    /// <summary>Groups dropped by dynamic sampling (all rewards equal), before refilling.</summary>
    [Id(13)] public long FilteredGroups { get; init; }
    /// <summary>Bytes of the weights the latest update published for the samplers to pull: the whole policy, or under
    /// LoRA only its adapter (adapter-only weight sync).</summary>
    [Id(14)] public long LastSyncBytes { get; init; }
    /// <summary>SHA-256 chained over the prompts of every trained step, in order: two runs trained on the same prompts
    /// in the same order, each once, have the same digest (what a resumed async run guarantees; see
    /// docs/architecture.md, "Runs that survive").</summary>
    [Id(15)] public string PromptsSha256 { get; init; } = "";
}
