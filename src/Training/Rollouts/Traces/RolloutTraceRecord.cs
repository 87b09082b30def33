using MessagePack;

namespace RlhfActors.Training.Rollouts.Traces;

/// <summary>
/// One traced rollout batch: one msgpack map per batch, appended to <c>&lt;output_dir&gt;/rollouts/rollouts-NNNNNN.msgpack</c>
/// (docs/rollout-traces.md). Why a map with snake_case string keys rather than MessagePack-CSharp's compact integer
/// keys: any msgpack reader (Python's <c>msgpack.Unpacker</c>) then sees named fields without this assembly. Why one
/// record per batch: the step, stage and version are written once, and a reader looking for one step skips whole
/// batches.
/// </summary>
[MessagePackObject]
public sealed record RolloutTraceRecord
{
    /// <summary>The format's version; a reader refuses one it does not know.</summary>
    public const int CurrentFormat = 1;

    [Key("format")] public int Format { get; init; } = CurrentFormat;
    /// <summary>The policy step the batch was trained into (PPO, GRPO), or the step the round started at (RLAIF).</summary>
    [Key("step")] public int Step { get; init; }
    /// <summary>The stage that sampled it: <c>grpo</c>, <c>ppo</c> or <c>rlaif</c>.</summary>
    [Key("stage")] public string Stage { get; init; } = "";
    /// <summary>The policy version that sampled the rows (the oldest one when shards were merged).</summary>
    [Key("policy_version")] public long PolicyVersion { get; init; }
    /// <summary>Completions per prompt: rows come in groups of this many consecutive rows.</summary>
    [Key("group_size")] public int GroupSize { get; init; }
    /// <summary>When the record was written, ISO 8601 UTC (a string: every reader has one).</summary>
    [Key("time")] public string Time { get; init; } = "";
    [Key("rows")] public RolloutTraceRow[] Rows { get; init; } = [];
}
