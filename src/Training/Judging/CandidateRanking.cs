using RlhfActors.Training.Data;

namespace RlhfActors.Training.Judging;

/// <summary>A prompt's candidates, for a judge to rank. <paramref name="Truncated"/>: per candidate, whether it hit
/// the token limit without its end (for missing_eos_penalty; null: none did); <paramref name="Reference"/>: the
/// dataset's answer (for the verifier judge; null: none).</summary>
public sealed record CandidateSet(string Prompt, IReadOnlyList<string> Candidates, IReadOnlyList<bool>? Truncated = null, string? Reference = null);

/// <summary>The judge's pair for one prompt: its best candidate over its worst, and the judge's probability that the
/// chosen one really is the better.</summary>
public sealed record RankedPair(int Set, string Prompt, string Chosen, string Rejected, double Confidence);

/// <summary><paramref name="Uncertain"/>: prompts whose best ≻ worst the judge could not vouch for with the
/// required confidence (no pair, like <paramref name="Skipped"/>, but counted apart so a report can tell them).</summary>
public sealed record RankOutcome(IReadOnlyList<RankedPair> Pairs, int Judgements, int Skipped, int OrderDisagreements, int Uncertain = 0);

/// <summary>
/// Turns judgements into preference pairs, one per prompt: best ≻ worst. Iterative DPO (e.g. Xiong et al. 2024,
/// Meta's self-rewarding loop) pairs the highest- and lowest-ranked of several samples: the widest gap the judge can
/// vouch for. Candidates with the same text are one candidate; a prompt whose candidates are all the same, or whose
/// best and worst the judge scores equally, gives no pair (skipped) rather than a coin flip.
/// <para>
/// <c>minConfidence</c> filters further: a pair is kept only when the judge's own probability that best ≻ worst is at
/// least that. An imperfect judge is wrong most often where it is least sure; in an iterative loop those wrong pairs
/// are what the policy learns to exploit next round (the drift that RLAIF papers answer with confidence or margin
/// filtering). Reward model: the Bradley–Terry probability σ(r_best − r_worst); pairwise judge: its verdict on
/// best vs worst. 0.5 keeps every pair the judge can tell apart.
/// </para>
/// </summary>
public static class CandidateRanking
{
    /// <summary>Pairwise judge: a round robin over each prompt's distinct candidates (all sets in one batch, so an
    /// HTTP judge's concurrency covers the round); a candidate's score is its summed preference share.</summary>
    public static async Task<RankOutcome> RankPairwiseAsync(IPairwiseJudge judge, IReadOnlyList<CandidateSet> sets, CancellationToken ct,
        double minConfidence = 0.5)
    {
        var distinct = sets.Select(s => s.Candidates.Distinct(StringComparer.Ordinal).ToArray()).ToArray();
        var queries = new List<PairwiseQuery>();
        var owners = new List<(int Set, int I, int J)>();
        for (int s = 0; s < sets.Count; s++)
            for (int i = 0; i < distinct[s].Length; i++)
                for (int j = i + 1; j < distinct[s].Length; j++)
                {
                    queries.Add(new PairwiseQuery(sets[s].Prompt, distinct[s][i], distinct[s][j]));
                    owners.Add((s, i, j));
                }
        var verdicts = queries.Count == 0 ? [] : await judge.JudgeAsync(queries, ct).ConfigureAwait(false);
        var scores = distinct.Select(d => new double[d.Length]).ToArray();
        var prefer = new Dictionary<(int Set, int I, int J), double>(); // P(candidate I ≻ candidate J), both ways
        int disagreements = 0;
        for (int q = 0; q < owners.Count; q++)
        {
            var (s, i, j) = owners[q];
            scores[s][i] += verdicts[q].PreferA;
            scores[s][j] += 1 - verdicts[q].PreferA;
            prefer[(s, i, j)] = verdicts[q].PreferA;
            prefer[(s, j, i)] = 1 - verdicts[q].PreferA;
            if (!verdicts[q].OrdersAgree) disagreements++;
        }
        var outcome = Pairs(sets, distinct, scores, (s, best, worst) => prefer[(s, best, worst)], minConfidence);
        return outcome with { Judgements = queries.Count, OrderDisagreements = disagreements };
    }

    /// <summary>Pointwise judge (a reward model): each distinct candidate scored once; a candidate that hit the
    /// token limit without its end loses <paramref name="missingEosPenalty"/> (TRL missing_eos_penalty) first.</summary>
    public static RankOutcome RankByScores(IReadOnlyList<CandidateSet> sets, Func<IReadOnlyList<(string Prompt, string Completion)>, double[]> score,
        double minConfidence = 0.5, double missingEosPenalty = 0)
    {
        var distinct = Distinct(sets);
        var rows = sets.SelectMany((s, i) => distinct[i].Select(c => (s.Prompt, c))).ToArray();
        var flat = rows.Length == 0 ? [] : score(rows);
        var scores = new double[sets.Count][];
        for (int s = 0, at = 0; s < sets.Count; at += distinct[s].Length, s++)
            scores[s] = Penalized(sets[s], distinct[s], flat[at..(at + distinct[s].Length)], missingEosPenalty);
        return Pairs(sets, distinct, scores, (s, best, worst) => Sigmoid(scores[s][best] - scores[s][worst]), minConfidence)
            with { Judgements = rows.Length };
    }

    /// <summary>The verifier as the judge: a candidate scores 1 when the task's check accepts it against the set's
    /// reference, else 0 (less <paramref name="missingEosPenalty"/> when truncated), so a pair is right ≻ wrong.
    /// Equal verdicts (both right, both wrong) are a tie and give no pair: TRL's reward_funcs path would label a tie
    /// "first completion wins" (argmax takes the first), which teaches a coin flip as a preference. A verdict is
    /// certain, so its confidence is 1 and min_confidence keeps every decisive pair.</summary>
    public static RankOutcome RankByVerifier(IReadOnlyList<CandidateSet> sets, IAnswerVerifier verifier, double missingEosPenalty = 0)
    {
        var distinct = Distinct(sets);
        var scores = sets.Select((set, s) => Penalized(set, distinct[s],
            [.. distinct[s].Select(c => set.Reference is { } reference && verifier.IsCorrect(new PromptCompletion(set.Prompt, reference), c) ? 1.0 : 0.0)],
            missingEosPenalty)).ToArray();
        return Pairs(sets, distinct, scores, (_, _, _) => 1.0, minConfidence: 0.5) with { Judgements = distinct.Sum(d => d.Length) };
    }

    /// <summary>Each prompt's candidate set once: a set sent twice (the same prompt drawn twice with the same
    /// candidates, or a retried round) is judged once, so it gives one pair, not two.</summary>
    public static CandidateSet[] Unique(IEnumerable<CandidateSet> sets) =>
        [.. sets.DistinctBy(s => (s.Prompt, string.Join('\u0001', s.Candidates)))];

    static string[][] Distinct(IReadOnlyList<CandidateSet> sets) => [.. sets.Select(s => s.Candidates.Distinct(StringComparer.Ordinal).ToArray())];

    /// <summary><paramref name="scores"/> of a set's distinct candidates, less the penalty for each truncated one
    /// (a text's first occurrence decides: the same text is the same tokens).</summary>
    static double[] Penalized(CandidateSet set, string[] distinct, double[] scores, double penalty)
    {
        if (penalty == 0 || set.Truncated is not { } truncated) return scores;
        var list = set.Candidates as IList<string> ?? [.. set.Candidates];
        return [.. scores.Select((score, i) => truncated[list.IndexOf(distinct[i])] ? score - penalty : score)];
    }

    static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));

    static RankOutcome Pairs(IReadOnlyList<CandidateSet> sets, string[][] distinct, double[][] scores,
        Func<int, int, int, double> confidence, double minConfidence)
    {
        var pairs = new List<RankedPair>();
        int skipped = 0, uncertain = 0;
        for (int s = 0; s < sets.Count; s++)
        {
            if (distinct[s].Length < 2) { skipped++; continue; }
            int best = 0, worst = 0;
            for (int i = 1; i < distinct[s].Length; i++)
            {
                if (scores[s][i] > scores[s][best]) best = i;
                if (scores[s][i] < scores[s][worst]) worst = i;
            }
            if (scores[s][best] <= scores[s][worst]) { skipped++; continue; }
            double sure = confidence(s, best, worst);
            if (sure < minConfidence) { uncertain++; continue; }
            pairs.Add(new RankedPair(s, sets[s].Prompt, distinct[s][best], distinct[s][worst], sure));
        }
        return new RankOutcome(pairs, 0, skipped, 0, uncertain);
    }
}
