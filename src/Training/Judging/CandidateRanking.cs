namespace RlhfActors.Training.Judging;

/// <summary>A prompt's candidates, for a judge to rank.</summary>
public sealed record CandidateSet(string Prompt, IReadOnlyList<string> Candidates);

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

    /// <summary>Pointwise judge (a reward model): each distinct candidate scored once.</summary>
    public static RankOutcome RankByScores(IReadOnlyList<CandidateSet> sets, Func<IReadOnlyList<(string Prompt, string Completion)>, double[]> score,
        double minConfidence = 0.5)
    {
        var distinct = sets.Select(s => s.Candidates.Distinct(StringComparer.Ordinal).ToArray()).ToArray();
        var rows = sets.SelectMany((s, i) => distinct[i].Select(c => (s.Prompt, c))).ToArray();
        var flat = rows.Length == 0 ? [] : score(rows);
        var scores = new double[sets.Count][];
        for (int s = 0, at = 0; s < sets.Count; at += distinct[s].Length, s++) scores[s] = flat[at..(at + distinct[s].Length)];
        return Pairs(sets, distinct, scores, (s, best, worst) => Sigmoid(scores[s][best] - scores[s][worst]), minConfidence)
            with { Judgements = rows.Length };
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
