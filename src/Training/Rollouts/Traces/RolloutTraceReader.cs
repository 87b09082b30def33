using System.Buffers;
using MessagePack;

namespace RlhfActors.Training.Rollouts.Traces;

/// <summary>Reads a run's trace files back, in writing order (<c>rlhf rollouts</c>).</summary>
public static class RolloutTraceReader
{
    /// <summary>Every whole record of <paramref name="folder"/>'s trace files. A torn last record (a run killed while
    /// writing it, or being written now) is not one yet and is skipped; anything else unreadable is an
    /// <see cref="InvalidDataException"/> naming the file and offset.</summary>
    public static IEnumerable<RolloutTraceRecord> Read(string folder)
    {
        foreach (var (_, path) in TraceFiles.List(folder))
            foreach (var record in ReadFile(path))
                yield return record;
    }

    public static IReadOnlyList<RolloutTraceRecord> ReadFile(string path)
    {
        byte[] bytes;
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
        {
            bytes = new byte[stream.Length];
            stream.ReadExactly(bytes);
        }
        var records = new List<RolloutTraceRecord>();
        var offset = 0;
        while (offset < bytes.Length)
        {
            var rest = new ReadOnlyMemory<byte>(bytes, offset, bytes.Length - offset);
            // Find the object's end first: an object cut short at the file's end is a torn record, not bad data.
            var reader = new MessagePackReader(rest);
            try
            {
                reader.Skip();
            }
            catch (EndOfStreamException)
            {
                break;
            }
            var length = (int)reader.Consumed;
            try
            {
                var record = MessagePackSerializer.Deserialize<RolloutTraceRecord>(rest[..length], TraceFiles.Read);
                if (record.Format != RolloutTraceRecord.CurrentFormat)
                    throw new InvalidDataException($"{path}: the record at byte {offset} has format {record.Format}; this rlhf reads format {RolloutTraceRecord.CurrentFormat}");
                records.Add(record);
            }
            catch (MessagePackSerializationException e)
            {
                throw new InvalidDataException($"{path}: the object at byte {offset} is not a rollout trace record: {e.InnerException?.Message ?? e.Message}", e);
            }
            offset += length;
        }
        return records;
    }
}
