using MessagePack;

namespace RlhfActors.Training.Rollouts.Traces;

/// <summary>One sampled completion of a traced batch (see <see cref="RolloutTraceRecord"/>); optional fields are
/// msgpack nil when the run has no such figure.</summary>
[MessagePackObject]
public sealed record RolloutTraceRow
{
    /// <summary>The sampler shard that generated the row (0-based, the order the controller merges shards in); -1 when
    /// the controller no longer knows it.</summary>
    [Key("sampler")] public int Sampler { get; init; } = -1;
    [Key("prompt")] public string Prompt { get; init; } = "";
    [Key("completion")] public string Completion { get; init; } = "";
    [Key("prompt_ids")] public int[] PromptIds { get; init; } = [];
    [Key("completion_ids")] public int[] CompletionIds { get; init; } = [];
    /// <summary>The dataset's reference answer, if the prompt line has one.</summary>
    [Key("reference")] public string? Reference { get; init; }
    /// <summary>The completion hit max_completion_length before an end token.</summary>
    [Key("truncated")] public bool Truncated { get; init; }
    /// <summary>The reward the update used (Σ weight · component); nil for RLAIF candidates (the judge ranks them).</summary>
    [Key("reward")] public double? Reward { get; init; }
    /// <summary>Each reward term's raw (unweighted) score by name; nil when the reward grain did not report them.</summary>
    [Key("reward_components")] public Dictionary<string, double>? RewardComponents { get; init; }
    /// <summary>Per completion token, the log-prob under the sampling policy.</summary>
    [Key("behaviour_logprobs")] public float[] BehaviourLogProbs { get; init; } = [];
    /// <summary>Per completion token, the frozen reference's log-prob; nil when the KL term is off (β = 0) or the
    /// learner computes it itself (LoRA).</summary>
    [Key("reference_logprobs")] public float[]? ReferenceLogProbs { get; init; }
}
