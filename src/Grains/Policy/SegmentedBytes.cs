namespace RlhfActors.Grains.Policy;

/// <summary>
/// One byte stream laid over a list of buffers (a version's tensors; a delta's indices and values), read and written
/// by offset without joining them: a policy's stream may be larger than any one array can be, and joining would copy
/// every byte once more. A chunk that falls inside one buffer is read as a slice of it, not a copy.
/// </summary>
public sealed class SegmentedBytes
{
    readonly ReadOnlyMemory<byte>[] _segments;
    // _starts[i]: the stream offset of _segments[i].
    readonly long[] _starts;
    // Set when this stream owns its buffers (a staging buffer): they may be written.
    readonly byte[][]? _arrays;

    public SegmentedBytes(IEnumerable<ReadOnlyMemory<byte>> segments)
    {
        _segments = [.. segments];
        _starts = new long[_segments.Length];
        long at = 0;
        for (var i = 0; i < _segments.Length; i++)
        {
            _starts[i] = at;
            at += _segments[i].Length;
        }
        Length = at;
    }

    SegmentedBytes(byte[][] arrays) : this(arrays.Select(a => new ReadOnlyMemory<byte>(a))) => _arrays = arrays;

    /// <summary>A writable stream of one zeroed array per length, in order (a staging buffer: one per tensor).</summary>
    public static SegmentedBytes Allocate(IEnumerable<long> lengths) => new([.. lengths.Select(length =>
        length is >= 0 and <= int.MaxValue && length <= Array.MaxLength
            ? new byte[length]
            : throw new ArgumentOutOfRangeException(nameof(lengths), length, $"a tensor of {length} bytes cannot be held in one array (at most {Array.MaxLength})"))]);

    public long Length { get; }

    /// <summary>The arrays of a stream made by <see cref="Allocate"/>, one per length asked for.</summary>
    public IReadOnlyList<byte[]> Arrays => _arrays ?? throw new InvalidOperationException("this stream reads buffers it does not own");

    /// <summary>Bytes [offset, offset + length): a slice when they lie in one buffer, else a copy.</summary>
    public ReadOnlyMemory<byte> Read(long offset, int length)
    {
        CheckRange(offset, length);
        if (length == 0) return ReadOnlyMemory<byte>.Empty;
        var i = Locate(offset);
        var inSegment = (int)(offset - _starts[i]);
        if (inSegment + length <= _segments[i].Length) return _segments[i].Slice(inSegment, length);
        var copy = new byte[length];
        foreach (var (segment, at, done, count) in Pieces(offset, length))
            _segments[segment].Span.Slice(at, count).CopyTo(copy.AsSpan(done, count));
        return copy;
    }

    /// <summary>Copies <paramref name="data"/> into the stream at <paramref name="offset"/>.</summary>
    public void Write(long offset, ReadOnlySpan<byte> data)
    {
        var arrays = Arrays;
        CheckRange(offset, data.Length);
        foreach (var (segment, at, done, count) in Pieces(offset, data.Length))
            data.Slice(done, count).CopyTo(arrays[segment].AsSpan(at, count));
    }

    /// <summary>The pieces of [offset, offset + length) buffer by buffer: which buffer, where in it, where in the
    /// range, how many bytes.</summary>
    IEnumerable<(int Segment, int At, int Done, int Count)> Pieces(long offset, int length)
    {
        var done = 0;
        for (var i = length == 0 ? 0 : Locate(offset); done < length; i++)
        {
            var at = (int)(offset + done - _starts[i]);
            var count = Math.Min(length - done, _segments[i].Length - at);
            yield return (i, at, done, count);
            done += count;
        }
    }

    /// <summary>The buffer holding byte <paramref name="offset"/> (empty buffers hold none).</summary>
    int Locate(long offset)
    {
        var i = Array.BinarySearch(_starts, offset);
        if (i < 0) i = ~i - 1;
        // Empty buffers share their start with the next one; BinarySearch may land on any of them.
        while (i > 0 && _starts[i - 1] == offset) i--;
        while (offset >= _starts[i] + _segments[i].Length) i++;
        return i;
    }

    void CheckRange(long offset, int length)
    {
        if (offset < 0 || length < 0 || offset + length > Length)
            throw new ArgumentOutOfRangeException(nameof(offset), offset, $"bytes [{offset}, {offset + length}) are outside a stream of {Length} bytes");
    }
}
