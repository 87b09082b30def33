using RlhfActors.Training.Data;
using RlhfActors.Training.Judging;

namespace RlhfActors.Tests.Judging;

/// <summary>The verifier as online DPO's judge, checked by hand: right ≻ wrong whichever was sampled first, equal
/// verdicts dropped as ties, missing_eos_penalty breaking a tie towards the completion that ended.</summary>
public sealed class VerifierJudgeTests
{
    static RankOutcome Judge(double penalty, params CandidateSet[] sets) =>
        CandidateRanking.RankByVerifier(sets, ExactMatchVerifier.Instance, penalty);

    [Fact]
    public void The_right_completion_is_chosen_in_either_position()
    {
        var outcome = Judge(0,
            new CandidateSet("2+3=", ["5", "6"], Reference: "5"),
            new CandidateSet("4+4=", ["9", "8"], Reference: "8"));

        Assert.Equal([("2+3=", "5", "6"), ("4+4=", "8", "9")], outcome.Pairs.Select(p => (p.Prompt, p.Chosen, p.Rejected)));
        Assert.All(outcome.Pairs, p => Assert.Equal(1.0, p.Confidence)); // a verdict, not an estimate
        Assert.Equal((0, 0, 4), (outcome.Skipped, outcome.Uncertain, outcome.Judgements));
    }

    [Fact]
    public void Equal_verdicts_are_ties_and_give_no_pair()
    {
        var outcome = Judge(0,
            new CandidateSet("1+1=", ["2", "2 "], Reference: "2"),   // both right (exact match trims)
            new CandidateSet("3+3=", ["5", "7"], Reference: "6"),    // both wrong
            new CandidateSet("2+2=", ["4", "4"], Reference: "4"),    // the same text twice: one candidate
            new CandidateSet("5+1=", ["6", "5"]));                   // no reference: nothing to verify against

        Assert.Empty(outcome.Pairs);
        Assert.Equal(4, outcome.Skipped);
    }

    [Fact]
    public void Missing_eos_penalty_breaks_a_tie_towards_the_completion_that_ended_but_never_beats_a_verdict()
    {
        var bothRight = new CandidateSet("1+2=", ["3", "3 "], Truncated: [true, false], Reference: "3");
        var bothWrong = new CandidateSet("1+3=", ["5", "55555"], Truncated: [false, true], Reference: "4");
        var rightButCut = new CandidateSet("2+2=", ["4", "5"], Truncated: [true, false], Reference: "4");

        Assert.Empty(Judge(0, bothRight, bothWrong).Pairs);
        var penalized = Judge(0.5, bothRight, bothWrong, rightButCut);
        // 1 − 0.5 against 1; 0 against 0 − 0.5; right (1 − 0.5) still over wrong (0).
        Assert.Equal([("1+2=", "3 ", "3"), ("1+3=", "5", "55555"), ("2+2=", "4", "5")],
            penalized.Pairs.Select(p => (p.Prompt, p.Chosen, p.Rejected)));
    }

    [Fact]
    public void A_set_sent_twice_is_judged_once()
    {
        var set = new CandidateSet("2+3=", ["5", "6"], Reference: "5");
        var unique = CandidateRanking.Unique([set, set with { }, new CandidateSet("2+3=", ["6", "5"], Reference: "5")]);
        Assert.Equal(2, unique.Length); // the same candidates in another order are another sample
    }
}
