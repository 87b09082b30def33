using System.Collections.Immutable;

namespace RlhfActors.Abstractions.Experiments;

/// <summary>One finished (or running) stage of a multi-stage run — sft, reward_model, ppo, dpo, rlaif — with the
/// figures a practitioner reads for it (reward_model: held-out preference accuracy; dpo: rewards/margins; ppo: mean
/// score and KL; …), keyed by TRL-style metric names.</summary>
[GenerateSerializer, Immutable, Alias("rlhf.StageSummary")]
public sealed record StageSummary
{
    [Id(0)] public string Name { get; init; } = "";
    [Id(1)] public int Steps { get; init; }
    [Id(2)] public double Seconds { get; init; }
    [Id(3)] public ImmutableSortedDictionary<string, double> Metrics { get; init; } = ImmutableSortedDictionary<string, double>.Empty;
}

/// <summary>Catastrophic-forgetting watch of one earlier task (<c>eval.watch</c>): held-out accuracy before training
/// and at every evaluation since; retention = latest ÷ before.</summary>
[GenerateSerializer, Immutable, Alias("rlhf.RetentionSummary")]
public sealed record RetentionSummary
{
    [Id(0)] public string Name { get; init; } = "";
    [Id(1)] public double Before { get; init; }
    [Id(2)] public double Latest { get; init; }
    /// <summary>Latest ÷ before; null when the task was never solved before training (nothing to retain).</summary>
    [Id(3)] public double? Retention { get; init; }
    [Id(4)] public ImmutableArray<EvalSummary> Evals { get; init; } = [];
}

/// <summary>One round of the RLAIF loop: pairs the judge produced, the DPO updates on them, and the policy's true
/// held-out accuracy after the round (the verifier measures, it never trains).</summary>
[GenerateSerializer, Immutable, Alias("rlhf.RlaifRoundSummary")]
public sealed record RlaifRoundSummary
{
    [Id(0)] public int Round { get; init; }
    [Id(1)] public int Pairs { get; init; }
    [Id(2)] public int Skipped { get; init; }
    [Id(3)] public int OrderDisagreements { get; init; }
    /// <summary>Share of the judge's pairs whose chosen completion the verifier would also choose: the judge's
    /// quality, measured after the fact and never fed back.</summary>
    [Id(4)] public double? JudgeAgreement { get; init; }
    [Id(5)] public double Loss { get; init; }
    [Id(6)] public double Margin { get; init; }
    [Id(7)] public double AccuracyAfter { get; init; }
    [Id(8)] public double Seconds { get; init; }
    /// <summary>Prompts left out because the judge was less sure than rlaif.judge.min_confidence.</summary>
    [Id(9)] public int Uncertain { get; init; }
    /// <summary>Share of the judge's pairs whose chosen answer the verifier says is right (measured, never fed back).</summary>
    [Id(10)] public double? ChosenCorrect { get; init; }
}
