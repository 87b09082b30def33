namespace RlhfActors.Training.Judging;

/// <summary>
/// A judge's answer to one <see cref="PairwiseQuery"/>. <see cref="PreferA"/> ∈ [0, 1] is the probability (or
/// vote share) that A is the better answer, averaged over the presentation orders. <see cref="OrdersAgree"/> is true
/// when every order picked the same candidate (a tie picks none): a verdict whose orders disagree is position bias
/// or a coin flip, and a caller building preference pairs may want to drop it.
/// </summary>
public sealed record JudgeVerdict(double PreferA, bool OrdersAgree)
{
    /// <summary>Combines the A-first order's P(A better) with the B-first order's, already mapped back to A
    /// (null when only one order was judged: then that order alone decides, and it "agrees" when it is no tie).</summary>
    internal static JudgeVerdict FromOrders(double aFirst, double? bFirst)
    {
        if (bFirst is not double second) return new JudgeVerdict(aFirst, aFirst != 0.5);
        bool agree = (aFirst > 0.5 && second > 0.5) || (aFirst < 0.5 && second < 0.5);
        return new JudgeVerdict((aFirst + second) / 2, agree);
    }
}
