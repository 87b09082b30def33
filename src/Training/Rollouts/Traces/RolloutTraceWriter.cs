using MessagePack;

namespace RlhfActors.Training.Rollouts.Traces;

/// <summary>What <see cref="RolloutTraceWriter.Append"/> did with a record.</summary>
public enum TraceAppend
{
    Written,
    /// <summary>Not written: it would take the traces past trace_max_mb (the first refusal).</summary>
    CapReached,
    /// <summary>Not written: the cap was reached before.</summary>
    Capped,
}

/// <summary>
/// Appends trace records to a run's trace files: each record one whole msgpack object, written and flushed at
/// once, so a reader streaming the file (Python's <c>msgpack.Unpacker</c>) sees whole records only and a killed run
/// loses at most the record being written. A file is closed and the next one started when a record would take it
/// past <c>trace_file_mb</c>; no record is written once the files would hold more than <c>trace_max_mb</c> in all.
/// </summary>
public sealed class RolloutTraceWriter
{
    readonly string _folder;
    readonly long _fileLimit, _maxBytes;

    RolloutTraceWriter(string folder, long fileLimit, long maxBytes, TracePosition position, long total)
    {
        (_folder, _fileLimit, _maxBytes, Position, TotalBytes) = (folder, fileLimit, maxBytes, position, total);
    }

    /// <summary>Where the traces go now (the controller records it after every append).</summary>
    public TracePosition Position { get; private set; }
    /// <summary>The bytes all trace files hold.</summary>
    public long TotalBytes { get; private set; }
    public bool CapReached { get; private set; }

    /// <summary>A writer continuing at <paramref name="position"/> (<see cref="TracePosition.None"/> for a new run): the
    /// files after it are deleted and its file is cut back to its length, so what a resumed run writes again is not
    /// there twice.</summary>
    public static RolloutTraceWriter Open(string folder, long fileLimitBytes, long maxBytes, TracePosition position)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(fileLimitBytes, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBytes, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(position.File);
        ArgumentOutOfRangeException.ThrowIfNegative(position.Bytes);
        long total = 0;
        foreach (var (index, path) in TraceFiles.List(folder))
        {
            if (index > position.File) File.Delete(path);
            else if (index == position.File)
            {
                using var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
                if (stream.Length > position.Bytes) stream.SetLength(position.Bytes);
                total += stream.Length;
            }
            else total += new FileInfo(path).Length;
        }
        return new RolloutTraceWriter(folder, fileLimitBytes, maxBytes, position, total);
    }

    public TraceAppend Append(RolloutTraceRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        if (CapReached) return TraceAppend.Capped;
        var bytes = MessagePackSerializer.Serialize(record, TraceFiles.Write);
        if (TotalBytes + bytes.Length > _maxBytes)
        {
            CapReached = true;
            return TraceAppend.CapReached;
        }
        // A record larger than a file's limit gets a file of its own rather than being lost.
        var next = Position.File == 0 || Position.Bytes > 0 && Position.Bytes + bytes.Length > _fileLimit
            ? new TracePosition(Position.File + 1, 0)
            : Position;
        Directory.CreateDirectory(_folder);
        using (var stream = new FileStream(TraceFiles.PathOf(_folder, next.File), FileMode.OpenOrCreate, FileAccess.Write, FileShare.ReadWrite))
        {
            // A failed append may have left part of a record: cut back to the last length known whole.
            if (stream.Length != next.Bytes) stream.SetLength(next.Bytes);
            stream.Position = next.Bytes;
            stream.Write(bytes);
            stream.Flush(flushToDisk: false);
        }
        TotalBytes += bytes.Length;
        Position = next with { Bytes = next.Bytes + bytes.Length };
        return TraceAppend.Written;
    }
}
