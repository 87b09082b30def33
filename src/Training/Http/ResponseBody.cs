using System.Buffers;
using System.Globalization;
using System.Text;

namespace RlhfActors.Training.Http;

/// <summary>
/// Reads an HTTP response body without trusting its size: at most a cap, so a server that answers 200 MB (a bug, a
/// proxy error page, a hostile endpoint) costs a bounded amount of memory and time instead of the whole body.
/// Callers send with <see cref="HttpCompletionOption.ResponseHeadersRead"/> so HttpClient does not buffer the body
/// first. <c>HttpClient.MaxResponseContentBufferSize</c> is not used: it belongs to the client, which may be injected
/// and shared with other callers, and its overflow is an HttpRequestException that names neither the URL nor the
/// setting to raise, and that the retry loops would take for a transient network error.
/// </summary>
static class ResponseBody
{
    /// <summary>What an error status's body is read to: enough for a 200-char excerpt, and far enough past it that a
    /// secret overlapping the excerpt is read whole and so can be masked whole before the excerpt is cut.</summary>
    public const int ExcerptBytes = 16 * 1024;

    const int ChunkBytes = 16 * 1024;

    /// <summary>The whole body as text, or an InvalidDataException naming <paramref name="source"/> (who answered)
    /// and the cap when the body is longer than <paramref name="maxBytes"/>: by its Content-Length before a byte is
    /// read, or, for a chunked body or an understated length, as soon as the bytes read pass the cap.</summary>
    /// <param name="setting">The config knob that raises the cap, named in the error.</param>
    public static async Task<string> ReadAsync(HttpContent content, int maxBytes, string source, string setting, CancellationToken ct)
    {
        if (content.Headers.ContentLength is long declared && declared > maxBytes)
            throw TooLarge(source, maxBytes, setting, $"its Content-Length is {declared} bytes");
        var (text, whole) = await ReadPrefixAsync(content, maxBytes, ct).ConfigureAwait(false);
        if (!whole) throw TooLarge(source, maxBytes, setting, "reading stopped there");
        return text;
    }

    /// <summary>The body's first bytes, at most <paramref name="maxBytes"/>, as text; Whole when that is all of it.
    /// Reads at most maxBytes + 1 bytes, whatever the server sends; the caller's token bounds the time.</summary>
    public static async Task<(string Text, bool Whole)> ReadPrefixAsync(HttpContent content, int maxBytes, CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxBytes);
        await using var stream = await content.ReadAsStreamAsync(ct).ConfigureAwait(false);
        int expected = (int)Math.Min(content.Headers.ContentLength ?? 0, maxBytes);
        using var body = new MemoryStream(expected);
        var chunk = ArrayPool<byte>.Shared.Rent(ChunkBytes);
        try
        {
            while (body.Length <= maxBytes)
            {
                int want = (int)Math.Min(chunk.Length, maxBytes + 1L - body.Length);
                int read = await stream.ReadAsync(chunk.AsMemory(0, want), ct).ConfigureAwait(false);
                if (read == 0) break;
                body.Write(chunk, 0, read);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }
        bool whole = body.Length <= maxBytes;
        var bytes = body.GetBuffer().AsSpan(0, (int)Math.Min(body.Length, maxBytes));
        return (Decode(bytes, content.Headers.ContentType?.CharSet), whole);
    }

    /// <summary>As ReadAsStringAsync decodes: the declared charset if known, else UTF-8 (JSON's encoding, RFC 8259),
    /// without a byte-order mark.</summary>
    static string Decode(ReadOnlySpan<byte> bytes, string? charset)
    {
        var encoding = Encoding.UTF8;
        if (!string.IsNullOrWhiteSpace(charset))
        {
            try
            {
                encoding = Encoding.GetEncoding(charset.Trim('"', ' '));
            }
            catch (ArgumentException)
            {
                // An unknown charset: UTF-8 is the likeliest truth for a JSON API.
            }
        }
        var preamble = encoding.Preamble;
        if (bytes.StartsWith(preamble)) bytes = bytes[preamble.Length..];
        return encoding.GetString(bytes);
    }

    /// <summary>The first 200 chars of a body, for error messages, with <paramref name="secrets"/> and credential
    /// patterns masked in the whole body before the cut, so a secret crossing the cut is masked rather than half
    /// shown.</summary>
    public static string Excerpt(string body, IEnumerable<string?> secrets)
    {
        // Only the start can reach the excerpt: masking a 4 MiB body whole would be wasted work.
        if (body.Length > ExcerptBytes) body = body[..ExcerptBytes];
        body = Secrets.Redact(body, secrets);
        return body.Length <= 200 ? body : body[..200] + "…";
    }

    static InvalidDataException TooLarge(string source, int maxBytes, string setting, string how) =>
        new($"{source} answered a body over the {Size(maxBytes)} response cap ({how}); raise {setting} if answers this large are expected");

    /// <summary>"4 MiB (4194304 bytes)", "64 KiB (65536 bytes)", "1000 bytes".</summary>
    public static string Size(long bytes) => bytes switch
    {
        >= 1 << 20 when bytes % (1 << 20) == 0 => string.Create(CultureInfo.InvariantCulture, $"{bytes >> 20} MiB ({bytes} bytes)"),
        >= 1 << 10 when bytes % (1 << 10) == 0 => string.Create(CultureInfo.InvariantCulture, $"{bytes >> 10} KiB ({bytes} bytes)"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes} bytes"),
    };
}
