using RlhfActors.Abstractions.Rollouts;

namespace RlhfActors.Grains.Experiments.Stages;

/// <summary>
/// Facts the controller learns about rows on their way to an update (which sampler shard generated a row, what each
/// reward term gave it), found again for the rows the stage finally trains on. Why keyed by the row's own arrays
/// (its prompt-ids and completion-ids arrays, by reference): merging shards and keeping groups
/// (<see cref="RolloutBatchMessage.Concat"/>, <see cref="RolloutBatchMessage.Select"/>) copy row references, never rows,
/// so a row keeps its key however the stage filters and merges, and no contract type has to carry these facts. Two
/// rows share a key only when they share both arrays, i.e. hold the same prompt and completion, which score alike.
/// The notes of the last <see cref="KeptBatches"/> batches are kept: enough for an async step's next batch and
/// dynamic sampling's refills.
/// </summary>
public sealed class RowNotes<T>
{
    const int KeptBatches = 16;
    readonly LinkedList<Dictionary<RowKey, T>> _batches = new();

    readonly record struct RowKey(int[] Prompt, int[] Completion);

    public void Note(RolloutBatchMessage batch, Func<int, T> value)
    {
        var notes = new Dictionary<RowKey, T>(batch.Count);
        for (int row = 0; row < batch.Count; row++) notes.TryAdd(Key(batch, row), value(row));
        _batches.AddFirst(notes);
        while (_batches.Count > KeptBatches) _batches.RemoveLast();
    }

    /// <summary>The newest note of row <paramref name="row"/> of <paramref name="batch"/>.</summary>
    public bool TryGet(RolloutBatchMessage batch, int row, out T value)
    {
        var key = Key(batch, row);
        foreach (var notes in _batches)
            if (notes.TryGetValue(key, out value!)) return true;
        value = default!;
        return false;
    }

    public void Clear() => _batches.Clear();

    // Arrays compare by reference: the record struct's equality is exactly "the same two arrays".
    static RowKey Key(RolloutBatchMessage batch, int row) => new(batch.PromptIds[row], batch.CompletionIds[row]);
}
