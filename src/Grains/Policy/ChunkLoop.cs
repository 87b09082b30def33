namespace RlhfActors.Grains.Policy;

/// <summary>A stream of bytes cut into chunks that travel as separate messages, a bounded number in flight: the loop of
/// every chunked publication and pull.</summary>
public static class ChunkLoop
{
    /// <summary>Runs <paramref name="chunk"/>(offset, length) for every chunk of a <paramref name="total"/>-byte stream
    /// (<paramref name="chunkBytes"/> each, the last shorter), at most <paramref name="concurrency"/> at a time. The
    /// first failure stops new chunks from starting and is thrown once those in flight end.</summary>
    public static async Task ForEachAsync(long total, int chunkBytes, int concurrency, Func<long, int, Task> chunk)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(chunkBytes);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(concurrency);
        var chunks = (total + chunkBytes - 1) / chunkBytes;
        long next = -1;
        var failed = 0;

        async Task Worker()
        {
            long index;
            while (Volatile.Read(ref failed) == 0 && (index = Interlocked.Increment(ref next)) < chunks)
            {
                var offset = index * chunkBytes;
                try
                {
                    await chunk(offset, (int)Math.Min(chunkBytes, total - offset));
                }
                catch
                {
                    Interlocked.Exchange(ref failed, 1);
                    throw;
                }
            }
        }

        await Task.WhenAll(Enumerable.Range(0, (int)Math.Min(concurrency, chunks)).Select(_ => Worker()));
    }
}
