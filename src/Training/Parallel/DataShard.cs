namespace RlhfActors.Training.Parallel;

/// <summary>
/// Rank <see cref="Rank"/> of <see cref="Ranks"/> in a data-parallel group: which rows of a global batch it trains on.
/// Rows are split into contiguous, nearly equal runs (the first <c>rows % ranks</c> ranks take one more), so every
/// rank derives every other rank's share from the batch size alone and no row is trained twice or skipped.
/// </summary>
public readonly record struct DataShard(int Rank, int Ranks)
{
    /// <summary>One learner: the whole batch.</summary>
    public static DataShard Whole { get; } = new(0, 1);

    public bool IsWhole => Ranks == 1;

    /// <summary>First row and row count of this rank's share of <paramref name="rows"/> rows.</summary>
    public (int Start, int Count) Rows(int rows)
    {
        if (Ranks < 1 || Rank < 0 || Rank >= Ranks) throw new InvalidOperationException($"rank {Rank} of {Ranks} is not a rank of a group");
        if (rows < Ranks)
            throw new ArgumentException($"a global batch of {rows} rows cannot be shared by {Ranks} learners: each needs at least one row (raise the batch size or lower parallel.learners)");
        int share = rows / Ranks, extra = rows % Ranks;
        int start = Rank * share + Math.Min(Rank, extra);
        return (start, share + (Rank < extra ? 1 : 0));
    }

    /// <summary>This rank's rows of <paramref name="batch"/>.</summary>
    public IReadOnlyList<T> Slice<T>(IReadOnlyList<T> batch)
    {
        if (IsWhole) return batch;
        var (start, count) = Rows(batch.Count);
        var rows = new T[count];
        for (int i = 0; i < count; i++) rows[i] = batch[start + i];
        return rows;
    }
}
