using System.Text;

namespace RlhfActors.Training.Metrics;

/// <summary>
/// A run's history, <c>&lt;output_dir&gt;/metrics.jsonl</c>: appended one line at a time and flushed, so a reader
/// (<c>rlhf metrics --follow</c>) sees whole lines only and a killed run loses at most the line being written. A
/// resume cuts the file back to the length its checkpoint recorded (<see cref="TruncateTo"/>) before appending, so
/// no step is written twice.
/// </summary>
public static class MetricsFile
{
    public const string FileName = "metrics.jsonl";

    public static string PathIn(string outputDir) => Path.Combine(outputDir, FileName);

    /// <summary>Appends <paramref name="lines"/> and returns the file's length after them (what a checkpoint records).</summary>
    public static long Append(string path, IEnumerable<MetricsLine> lines)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var text = new StringBuilder();
        foreach (var line in lines) text.Append(line.ToJson()).Append('\n');
        using var stream = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
        if (text.Length > 0)
        {
            stream.Write(Encoding.UTF8.GetBytes(text.ToString()));
            stream.Flush(flushToDisk: false);
        }
        return stream.Length;
    }

    /// <summary>Cuts the file back to <paramref name="length"/> bytes (a resume from a checkpoint that recorded it);
    /// nothing when it is already that short or absent. A torn last line (a kill mid-write) is cut too.</summary>
    public static void TruncateTo(string path, long length)
    {
        if (!File.Exists(path)) return;
        using var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
        var keep = Math.Min(length, stream.Length);
        keep = LastLineEnd(stream, keep);
        if (keep < stream.Length) stream.SetLength(keep);
    }

    /// <summary>Every whole line of the file (a torn last line is not one yet); empty when there is no file. A bad
    /// line is named by file and line number.</summary>
    public static IReadOnlyList<MetricsLine> Read(string path)
    {
        var (text, _) = ReadText(path, 0, int.MaxValue);
        return [.. text.Split('\n').SkipLast(1).Select((line, i) => (line.Trim(), i)).Where(l => l.Item1.Length > 0)
            .Select(l => MetricsLine.Parse(l.Item1, $"{path}:{l.i + 1}"))];
    }

    /// <summary>The text of the whole lines from byte <paramref name="offset"/> (at most <paramref name="maxBytes"/>, or
    /// the first line when it alone is longer), or of the last <paramref name="tailLines"/> lines when that is &gt; 0;
    /// and the offset after them. An offset past the end (the file was cut back by a resume) reads from the start.</summary>
    public static (string Text, long Next) ReadText(string path, long offset, int maxBytes, int tailLines = 0)
    {
        if (!File.Exists(path)) return ("", 0);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        var length = stream.Length;
        if (tailLines > 0)
        {
            // Backwards in blocks until enough line ends are seen: the cost is the tail's, not the file's.
            long start = length;
            int ends = 0;
            var block = new byte[64 * 1024];
            while (start > 0 && ends <= tailLines)
            {
                var size = (int)Math.Min(block.Length, start);
                start -= size;
                stream.Position = start;
                stream.ReadExactly(block, 0, size);
                ends += block.AsSpan(0, size).Count((byte)'\n');
            }
            offset = start;
        }
        if (offset > length) offset = 0;
        stream.Position = offset;
        var bytes = new byte[Math.Min(length - offset, tailLines > 0 ? int.MaxValue : maxBytes)];
        stream.ReadExactly(bytes);
        var end = Array.LastIndexOf(bytes, (byte)'\n') + 1;
        var text = Encoding.UTF8.GetString(bytes, 0, end);
        if (tailLines > 0)
        {
            var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            text = string.Concat(lines.TakeLast(tailLines).Select(l => l + "\n"));
        }
        return (text, offset + end);
    }

    /// <summary>Parses lines as <see cref="ReadText"/> returns them; <paramref name="source"/> names them in errors.</summary>
    public static IReadOnlyList<MetricsLine> Parse(string text, string source) =>
        [.. text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => MetricsLine.Parse(l.Trim(), source))];

    /// <summary>The end of the last whole line at or before <paramref name="limit"/>.</summary>
    static long LastLineEnd(Stream stream, long limit)
    {
        if (limit == 0) return 0;
        var buffer = new byte[1];
        for (long i = limit - 1; i >= 0; i--)
        {
            stream.Position = i;
            stream.ReadExactly(buffer);
            if (buffer[0] == '\n') return i + 1;
        }
        return 0;
    }
}
