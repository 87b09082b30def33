using System.Text.RegularExpressions;

namespace RlhfActors.Training.Http;

/// <summary>
/// Masks credentials in text about to become an exception message (and so a log line, status.error, the run's
/// JSON). Messages about a remote endpoint quote what it answered, and a proxy, a debug server or a misconfigured
/// gateway may echo the request's headers back, key included. Three layers, each catching what the one before
/// cannot: the exact secret values wherever they stand; the value after an Authorization or API-key name; and any
/// Bearer token (one the caller did not know it sent, e.g. from an injected client's default headers).
/// </summary>
public static partial class Secrets
{
    public const string Mask = "***";

    /// <summary><paramref name="text"/> with every non-empty <paramref name="secrets"/> value and every credential
    /// pattern replaced by <see cref="Mask"/>. Null or empty secrets (an unset key) are skipped.</summary>
    public static string Redact(string text, params IEnumerable<string?> secrets)
    {
        ArgumentNullException.ThrowIfNull(text);
        // Longest first, so a secret that contains another is masked whole rather than leaving its remainder.
        foreach (var secret in (secrets ?? []).OfType<string>().Where(s => s.Length > 0).Distinct().OrderByDescending(s => s.Length))
            text = text.Replace(secret, Mask, StringComparison.Ordinal);
        text = NamedValue().Replace(text, m => m.Groups["name"].Value + m.Groups["sep"].Value + Mask);
        return BearerToken().Replace(text, m => m.Groups["scheme"].Value + " " + Mask);
    }

    /// <summary>"Authorization: Bearer x", "authorization=x", "\"X-Api-Key\": \"x\"", "api_key=x": the name, its
    /// separator with any opening quote, then the value (an auth scheme and its token) up to whitespace, a quote or
    /// a delimiter. "api_key_env" is a different word and is left alone.</summary>
    [GeneratedRegex("""(?<name>\b(?:(?:proxy-)?authorization|(?:x-)?api[-_]?key)\b)(?<sep>["']?\s*[:=]\s*["']?)(?:(?:bearer|basic)\s+)?[^\s"',;&}\]]+""",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex NamedValue();

    /// <summary>"Bearer" then a token of RFC 6750 b64token characters, at least 8 of them: real tokens are far longer,
    /// and prose ("the bearer of …") stays readable. Basic is left to <see cref="NamedValue"/>: "basic" is an
    /// ordinary word, and nothing here sends Basic credentials.</summary>
    [GeneratedRegex("""(?<scheme>\bbearer)\s+[A-Za-z0-9\-._~+/]{8,}=*""", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex BearerToken();
}
