using System.Collections.Immutable;

namespace RlhfActors.Abstractions.Preference;

/// <summary>One preference (TRL's field names): <see cref="Chosen"/> is preferred over <see cref="Rejected"/>.</summary>
[GenerateSerializer, Immutable, Alias("rlhf.PreferencePairItem")]
public sealed record PreferencePairItem(
    [property: Id(0)] string Prompt,
    [property: Id(1)] string Chosen,
    [property: Id(2)] string Rejected);

/// <summary>Sequence log-probs (sums over completion tokens) of one pair under the reference policy.</summary>
[GenerateSerializer, Immutable, Alias("rlhf.PairLogProbs")]
public sealed record PairLogProbs(
    [property: Id(0)] float Chosen,
    [property: Id(1)] float Rejected);

/// <summary>Held-out preference accuracy: the share of pairs whose chosen completion scores higher (a reward model's
/// score, or DPO's implicit reward β·(log π − log π_ref)).</summary>
[GenerateSerializer, Immutable, Alias("rlhf.PreferenceEvalResult")]
public sealed record PreferenceEvalResult
{
    [Id(0)] public int Pairs { get; init; }
    [Id(1)] public int Correct { get; init; }
    [Id(2)] public double Accuracy { get; init; }
    [Id(3)] public double MeanMargin { get; init; }
}

/// <summary>One DPO-family update on a batch of pairs; <see cref="Reference"/> is default for SimPO (reference-free).</summary>
[GenerateSerializer, Immutable, Alias("rlhf.DpoStepRequest")]
public sealed record DpoStepRequest
{
    [Id(0)] public ImmutableArray<PreferencePairItem> Pairs { get; init; } = [];
    [Id(1)] public ImmutableArray<PairLogProbs> Reference { get; init; }
    [Id(2)] public double LearningRate { get; init; }
    /// <summary>KTO only (default otherwise), one per row: true = desirable. A KTO row is (prompt, completion, KL
    /// completion), its <see cref="Reference"/> the reference's log-probs of the two.</summary>
    [Id(3)] public ImmutableArray<bool> Labels { get; init; }
}

/// <summary>One DPO-family update with TRL's metrics: rewards/chosen, rewards/rejected, rewards/margins,
/// rewards/accuracies (implicit rewards β·(log π − log π_ref) on the batch).</summary>
[GenerateSerializer, Immutable, Alias("rlhf.DpoStepResult")]
public sealed record DpoStepResult
{
    [Id(0)] public int Step { get; init; }
    [Id(1)] public long PolicyVersion { get; init; }
    [Id(2)] public double Loss { get; init; }
    [Id(3)] public double RewardsChosen { get; init; }
    [Id(4)] public double RewardsRejected { get; init; }
    [Id(5)] public double Margin { get; init; }
    [Id(6)] public double Accuracy { get; init; }
    [Id(7)] public double GradNorm { get; init; }
    [Id(8)] public int Pairs { get; init; }
    [Id(9)] public double Seconds { get; init; }
    [Id(10)] public long Tokens { get; init; }
    /// <summary>The variant's own figures under TRL's names: ORPO's log_odds_ratio, log_odds_chosen and nll_loss (also
    /// RPO's), KTO's kl.</summary>
    [Id(11)] public ImmutableSortedDictionary<string, double> Logged { get; init; } = ImmutableSortedDictionary<string, double>.Empty;
}

/// <summary>Held-out pairs to score with the policy's implicit reward.</summary>
[GenerateSerializer, Immutable, Alias("rlhf.PreferenceEvalRequest")]
public sealed record PreferenceEvalRequest
{
    [Id(0)] public ImmutableArray<PreferencePairItem> Pairs { get; init; } = [];
    [Id(1)] public ImmutableArray<PairLogProbs> Reference { get; init; }
}

/// <summary>One reward-model update (Bradley–Terry loss on a batch of pairs).</summary>
[GenerateSerializer, Immutable, Alias("rlhf.RewardModelStepMetrics")]
public sealed record RewardModelStepMetrics
{
    [Id(0)] public int Step { get; init; }
    [Id(1)] public double Loss { get; init; }
    [Id(2)] public double Accuracy { get; init; }
    [Id(3)] public double MeanMargin { get; init; }
    [Id(4)] public double LearningRate { get; init; }
    [Id(5)] public double Seconds { get; init; }
}

/// <summary>Candidates for one prompt, for the judge to rank.</summary>
[GenerateSerializer, Immutable, Alias("rlhf.CandidateGroup")]
public sealed record CandidateGroup(
    [property: Id(0)] string Prompt,
    [property: Id(1)] ImmutableArray<string> Candidates)
{
    /// <summary>The dataset's answer (the verifier judge's reference; null: none).</summary>
    [Id(2)] public string? Reference { get; init; }
    /// <summary>Per candidate: it hit the token limit without its end (missing_eos_penalty); default: none did.</summary>
    [Id(3)] public ImmutableArray<bool> Truncated { get; init; }
}

/// <summary>What the judge made of a round's candidates: one pair (best ≻ worst) per prompt whose candidates it could
/// tell apart, and how it got there.</summary>
[GenerateSerializer, Immutable, Alias("rlhf.RankResult")]
public sealed record RankResult
{
    [Id(0)] public ImmutableArray<PreferencePairItem> Pairs { get; init; } = [];
    /// <summary>Pairwise judgements made (each order of a pair counts once).</summary>
    [Id(1)] public int Judgements { get; init; }
    /// <summary>Prompts skipped: every candidate the same text, or the judge saw no difference.</summary>
    [Id(2)] public int Skipped { get; init; }
    /// <summary>Pairs judged in both orders whose two verdicts disagreed (position bias at work).</summary>
    [Id(3)] public int OrderDisagreements { get; init; }
    [Id(4)] public double Seconds { get; init; }
    /// <summary>Set when the judge's endpoint stayed down: no pairs this time; the judge keeps the prompts (and every
    /// verdict it already has) and judges them first on the next call.</summary>
    [Id(5)] public string? Unavailable { get; init; }
    [Id(6)] public int PendingPrompts { get; init; }
    /// <summary>Prompts whose best ≻ worst the judge was less sure of than rlaif.judge.min_confidence: no pair.</summary>
    [Id(7)] public int Uncertain { get; init; }
}
