using System.Runtime.InteropServices;
using RlhfActors.Grains.Policy;

namespace RlhfActors.Tests.Policy;

/// <summary>A transfer's stream over many buffers: any byte range reads and writes across their edges, empty buffers
/// included, and a range inside one buffer is a slice of it.</summary>
public sealed class SegmentedBytesTests
{
    static readonly byte[][] Buffers = [[1, 2, 3], [], [4, 5], [], [], [6, 7, 8, 9]];

    [Fact]
    public void Every_range_reads_the_bytes_of_the_joined_buffers()
    {
        var stream = new SegmentedBytes(Buffers.Select(b => new ReadOnlyMemory<byte>(b)));
        var joined = Buffers.SelectMany(b => b).ToArray();

        Assert.Equal(joined.Length, stream.Length);
        for (var offset = 0; offset <= joined.Length; offset++)
            for (var length = 0; offset + length <= joined.Length; length++)
                Assert.Equal(joined[offset..(offset + length)], stream.Read(offset, length).ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => stream.Read(8, 2));
    }

    [Fact]
    public void A_range_inside_one_buffer_is_a_slice_of_it_not_a_copy()
    {
        var stream = new SegmentedBytes(Buffers.Select(b => new ReadOnlyMemory<byte>(b)));
        Assert.True(MemoryMarshal.TryGetArray(stream.Read(6, 3), out var segment));
        Assert.Same(Buffers[5], segment.Array);
        Assert.Equal(1, segment.Offset);
    }

    [Fact]
    public void Writes_in_any_chunks_fill_the_staging_arrays_in_order()
    {
        var joined = Buffers.SelectMany(b => b).ToArray();
        var staged = SegmentedBytes.Allocate(Buffers.Select(b => (long)b.Length));

        foreach (var offset in new[] { 8, 0, 4 })
            staged.Write(offset, joined.AsSpan(offset, Math.Min(4, joined.Length - offset)));

        Assert.Equal(Buffers, staged.Arrays);
        Assert.Throws<InvalidOperationException>(() => new SegmentedBytes([new byte[1]]).Write(0, [1]));
    }

    [Fact]
    public async Task The_chunk_loop_visits_every_chunk_once_and_stops_at_the_first_failure()
    {
        var seen = new System.Collections.Concurrent.ConcurrentBag<(long, int)>();
        await ChunkLoop.ForEachAsync(10, 3, 2, async (offset, length) => { await Task.Yield(); seen.Add((offset, length)); });
        Assert.Equal([(0L, 3), (3L, 3), (6L, 3), (9L, 1)], seen.OrderBy(c => c.Item1));

        var started = 0;
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => ChunkLoop.ForEachAsync(100, 1, 1, (offset, _) =>
        {
            Interlocked.Increment(ref started);
            return offset == 2 ? throw new InvalidOperationException("chunk 2") : Task.CompletedTask;
        }));
        Assert.Equal("chunk 2", error.Message);
        Assert.Equal(3, started);
    }
}
