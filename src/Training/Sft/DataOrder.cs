using RlhfActors.Training.Tasks;

namespace RlhfActors.Training.Sft;

/// <summary>The order in which an epoch visits the training examples: a shuffle seeded from the experiment seed
/// and the epoch through <see cref="StableSeed"/>, so the same config trains on the same batches in every process
/// (HashCode.Combine would not: it is randomised per process).</summary>
public static class DataOrder
{
    public static int[] ForEpoch(int count, int seed, int epoch)
    {
        var indices = Enumerable.Range(0, count).ToArray();
        new Random(StableSeed.Derive(seed, 0x10000 + epoch)).Shuffle(indices);
        return indices;
    }
}

/// <summary>Hands out items in shuffled epochs (<see cref="DataOrder"/>); its position (epoch, cursor) is what a
/// checkpoint saves to resume on the exact next item.</summary>
public sealed class EpochSampler<T>
{
    readonly IReadOnlyList<T> items;
    readonly int seed;
    int[] order;

    public EpochSampler(IReadOnlyList<T> items, int seed)
    {
        if (items.Count == 0) throw new ArgumentException("nothing to sample from", nameof(items));
        this.items = items;
        this.seed = seed;
        order = DataOrder.ForEpoch(items.Count, seed, 0);
    }

    /// <summary>Items in one epoch.</summary>
    public int Count => items.Count;
    public int Epoch { get; private set; }
    public int Cursor { get; private set; }
    /// <summary>Epochs done as a fraction (transformers' trainer_state "epoch"): 1.5 = halfway through the second.</summary>
    public double Epochs => Epoch + (double)Cursor / items.Count;

    public T[] Next(int count)
    {
        var batch = new T[count];
        for (int i = 0; i < count; i++)
        {
            if (Cursor == order.Length) Restore(Epoch + 1, 0);
            batch[i] = items[order[Cursor++]];
        }
        return batch;
    }

    /// <summary>Runs <paramref name="use"/> on the next <paramref name="count"/> items; if it throws, the draw is
    /// undone, so the failed update is tried again on the same items (a data-parallel group that lost a rank
    /// mid-update goes on this way: the draw counts only once the update is applied).</summary>
    public TResult WithNext<TResult>(int count, Func<T[], TResult> use)
    {
        var (epoch, cursor) = (Epoch, Cursor);
        try
        {
            return use(Next(count));
        }
        catch
        {
            Restore(epoch, cursor);
            throw;
        }
    }

    public void Restore(int epoch, int cursor)
    {
        if (epoch < 0 || cursor < 0 || cursor > items.Count) throw new ArgumentOutOfRangeException(nameof(cursor), $"epoch {epoch}, cursor {cursor}");
        order = DataOrder.ForEpoch(items.Count, seed, epoch);
        Epoch = epoch;
        Cursor = cursor;
    }
}
