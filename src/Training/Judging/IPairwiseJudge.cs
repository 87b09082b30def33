namespace RlhfActors.Training.Judging;

/// <summary>
/// An AI judge for RLAIF: for each query, how likely answer A is better than answer B. Judges present each pair in
/// both orders (A first, then B first with the answer mapped back) and average, because LLM judges favour one
/// position; averaging cancels a pure position bias to 0.5 instead of letting it pick a winner.
/// A judge may hold connections or a model; dispose it when done.
/// </summary>
public interface IPairwiseJudge : IDisposable
{
    /// <summary>One verdict per query, in query order.</summary>
    Task<IReadOnlyList<JudgeVerdict>> JudgeAsync(IReadOnlyList<PairwiseQuery> queries, CancellationToken ct);
}
