namespace RlhfActors.Training.Judging;

/// <summary>A prompt's candidates, for a judge to rank.</summary>
public sealed record CandidateSet(string Prompt, IReadOnlyList<string> Candidates);

/// <summary>The judge's pair for one prompt: its best candidate over its worst.</summary>
public sealed record RankedPair(int Set, string Prompt, string Chosen, string Rejected);

public sealed record RankOutcome(IReadOnlyList<RankedPair> Pairs, int Judgements, int Skipped, int OrderDisagreements);

/// <summary>
/// Turns judgements into preference pairs, one per prompt: best ≻ worst. Iterative DPO (e.g. Xiong et al. 2024,
/// Meta's self-rewarding loop) pairs the highest- and lowest-ranked of several samples: the widest gap the judge can
/// vouch for. Candidates with the same text are one candidate; a prompt whose candidates are all the same, or whose
/// best and worst the judge scores equally, gives no pair (skipped) rather than a coin flip.
/// </summary>
public static class CandidateRanking
{
    /// <summary>Pairwise judge: a round robin over each prompt's distinct candidates (all sets in one batch, so an
    /// HTTP judge's concurrency covers the round); a candidate's score is its summed preference share.</summary>
    public static async Task<RankOutcome> RankPairwiseAsync(IPairwiseJudge judge, IReadOnlyList<CandidateSet> sets, CancellationToken ct)
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
        int disagreements = 0;
        for (int q = 0; q < owners.Count; q++)
        {
            var (s, i, j) = owners[q];
            scores[s][i] += verdicts[q].PreferA;
            scores[s][j] += 1 - verdicts[q].PreferA;
            if (!verdicts[q].OrdersAgree) disagreements++;
        }
        var outcome = Pairs(sets, distinct, scores);
        return outcome with { Judgements = queries.Count, OrderDisagreements = disagreements };
    }

    /// <summary>Pointwise judge (a reward model): each distinct candidate scored once.</summary>
    public static RankOutcome RankByScores(IReadOnlyList<CandidateSet> sets, Func<IReadOnlyList<(string Prompt, string Completion)>, double[]> score)
    {
        var distinct = sets.Select(s => s.Candidates.Distinct(StringComparer.Ordinal).ToArray()).ToArray();
        var rows = sets.SelectMany((s, i) => distinct[i].Select(c => (s.Prompt, c))).ToArray();
        var flat = rows.Length == 0 ? [] : score(rows);
        var scores = new double[sets.Count][];
        for (int s = 0, at = 0; s < sets.Count; at += distinct[s].Length, s++) scores[s] = flat[at..(at + distinct[s].Length)];
        return Pairs(sets, distinct, scores) with { Judgements = rows.Length };
    }

    static RankOutcome Pairs(IReadOnlyList<CandidateSet> sets, string[][] distinct, double[][] scores)
    {
        var pairs = new List<RankedPair>();
        int skipped = 0;
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
            pairs.Add(new RankedPair(s, sets[s].Prompt, distinct[s][best], distinct[s][worst]));
        }
        return new RankOutcome(pairs, 0, skipped, 0);
    }
}
