using System.Text;

namespace RlhfActors.Training.Data;

/// <summary>
/// The non-blank lines of a JSONL file with their 1-based numbers, read within <see cref="JsonlLimits"/> and decoded
/// as strict UTF-8. Lines are split on '\n' (a trailing '\r' is dropped) and decoded one at a time, rather than through
/// a decoding <see cref="StreamReader"/>, so that an invalid byte is reported at its own line (a reader decodes whole
/// buffers ahead of the line being read) and no line is buffered past its cap. Invalid UTF-8 is an error: the lenient
/// decoder would turn it into U+FFFD and train on that silently. Errors are InvalidDataException "path:LINE: why".
/// </summary>
public static class JsonlLines
{
    static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static IEnumerable<(long Number, string Text)> Read(string path, JsonlLimits limits)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(limits);
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.SequentialScan);
        var chunk = new byte[64 * 1024];
        var line = new MemoryStream();
        long number = 1;
        int examples = 0;
        bool first = true;
        for (int read, start = 0; (read = file.Read(chunk)) > 0; start = 0, first = false)
        {
            if (first && chunk.AsSpan(0, read).StartsWith(Encoding.UTF8.Preamble))
                start = Encoding.UTF8.Preamble.Length; // a byte order mark is not text
            while (start < read)
            {
                int end = chunk.AsSpan(start, read - start).IndexOf((byte)'\n');
                int length = end < 0 ? read - start : end;
                if (line.Length + length > limits.MaxLineBytes + 1L) // + 1: room for the '\r' of a "\r\n"
                    throw Error(path, number, $"line is longer than {limits.MaxLineBytes} bytes (the limit for a JSONL line)");
                line.Write(chunk, start, length);
                if (end < 0) break;
                start += length + 1;
                if (Take(path, number++, line, limits, ref examples) is { } text) yield return text;
            }
        }
        if (Take(path, number, line, limits, ref examples) is { } last) yield return last;
    }

    /// <summary>The line in <paramref name="line"/>, decoded, or null when it is blank; empties the buffer.</summary>
    static (long, string)? Take(string path, long number, MemoryStream line, JsonlLimits limits, ref int examples)
    {
        var bytes = line.GetBuffer().AsSpan(0, (int)line.Length);
        if (bytes.EndsWith("\r"u8)) bytes = bytes[..^1];
        line.SetLength(0);
        if (bytes.Length > limits.MaxLineBytes)
            throw Error(path, number, $"line is longer than {limits.MaxLineBytes} bytes (the limit for a JSONL line)");
        string text;
        try { text = StrictUtf8.GetString(bytes); }
        catch (DecoderFallbackException e)
        {
            var at = e.Index >= 0 && e.BytesUnknown is { Length: > 0 } unknown ? $" (byte 0x{unknown[0]:X2} at byte {e.Index + 1} of the line)" : "";
            throw Error(path, number, $"not valid UTF-8{at}");
        }
        if (string.IsNullOrWhiteSpace(text)) return null;
        if (++examples > limits.MaxExamples)
            throw Error(path, number, $"more than {limits.MaxExamples} examples (the limit for a JSONL file)");
        return (number, text);
    }

    static InvalidDataException Error(string path, long line, string why) => new($"{path}:{line}: {why}");
}
