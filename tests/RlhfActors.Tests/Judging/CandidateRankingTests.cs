using RlhfActors.Training.Judging;

namespace RlhfActors.Tests.Judging;

public sealed class CandidateRankingTests
{
    // Scores by completion text, so each test states the judge it assumes.
    static Func<IReadOnlyList<(string Prompt, string Completion)>, double[]> Scores(Dictionary<string, double> byText) =>
        rows => [.. rows.Select(r => byText[r.Completion])];

    [Fact]
    public void Reward_model_pairs_best_over_worst_with_the_bradley_terry_probability()
    {
        var sets = new CandidateSet[] { new("1+1=", ["2", "3", "11", "2"]) };
        var outcome = CandidateRanking.RankByScores(sets, Scores(new() { ["2"] = 1.5, ["3"] = 0.2, ["11"] = -0.5 }));

        var pair = Assert.Single(outcome.Pairs);
        Assert.Equal(("2", "11"), (pair.Chosen, pair.Rejected));
        Assert.Equal(1 / (1 + Math.Exp(-2.0)), pair.Confidence, 12); // σ(1.5 − (−0.5))
        Assert.Equal(3, outcome.Judgements); // the duplicate "2" is scored once
        Assert.Equal((0, 0), (outcome.Skipped, outcome.Uncertain));
    }

    [Fact]
    public void Min_confidence_drops_the_pairs_the_judge_is_unsure_of_and_counts_them_apart()
    {
        var sets = new CandidateSet[]
        {
            new("a", ["x", "y"]),  // gap 3: σ = 0.953
            new("b", ["u", "v"]),  // gap 0.5: σ = 0.622
            new("c", ["s", "s"]),  // one distinct candidate: skipped
            new("d", ["p", "q"]),  // equal scores: skipped
        };
        var scores = Scores(new() { ["x"] = 2, ["y"] = -1, ["u"] = 0.5, ["v"] = 0, ["s"] = 0, ["p"] = 1, ["q"] = 1 });

        var all = CandidateRanking.RankByScores(sets, scores);
        Assert.Equal(["a", "b"], all.Pairs.Select(p => p.Prompt));
        Assert.Equal((2, 0), (all.Skipped, all.Uncertain));

        var sure = CandidateRanking.RankByScores(sets, scores, minConfidence: 0.9);
        Assert.Equal("a", Assert.Single(sure.Pairs).Prompt);
        Assert.Equal((2, 1), (sure.Skipped, sure.Uncertain));
    }

    /// <summary>A pairwise judge answering P(A ≻ B) from a table.</summary>
    sealed class TableJudge(Dictionary<(string A, string B), double> preferA) : IPairwiseJudge
    {
        public Task<IReadOnlyList<JudgeVerdict>> JudgeAsync(IReadOnlyList<PairwiseQuery> queries, CancellationToken ct) =>
            Task.FromResult<IReadOnlyList<JudgeVerdict>>([.. queries.Select(q => new JudgeVerdict(
                preferA.TryGetValue((q.A, q.B), out var p) ? p : 1 - preferA[(q.B, q.A)], OrdersAgree: true))]);

        public void Dispose() { }
    }

    [Fact]
    public async Task Pairwise_confidence_is_the_judges_verdict_on_best_against_worst()
    {
        // Round robin: "a" scores 0.9 + 0.7 = 1.6, "b" 0.1 + 0.8 = 0.9, "c" 0.3 + 0.2 = 0.5 → a ≻ c, and the confidence
        // is the judge's own verdict on a against c (0.7), not anything derived from the summed scores.
        using var judge = new TableJudge(new() { [("a", "b")] = 0.9, [("a", "c")] = 0.7, [("b", "c")] = 0.8 });
        var sets = new CandidateSet[] { new("p", ["a", "b", "c"]) };

        var outcome = await CandidateRanking.RankPairwiseAsync(judge, sets, CancellationToken.None);
        var pair = Assert.Single(outcome.Pairs);
        Assert.Equal(("a", "c"), (pair.Chosen, pair.Rejected));
        Assert.Equal(0.7, pair.Confidence, 12);
        Assert.Equal(3, outcome.Judgements);

        var strict = await CandidateRanking.RankPairwiseAsync(judge, sets, CancellationToken.None, minConfidence: 0.75);
        Assert.Empty(strict.Pairs);
        Assert.Equal(1, strict.Uncertain);
    }
}
