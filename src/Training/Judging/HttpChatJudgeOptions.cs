using System.Globalization;

namespace RlhfActors.Training.Judging;

/// <summary>
/// Where and how <see cref="HttpChatJudge"/> asks an OpenAI-compatible chat-completions server
/// (POST {<see cref="BaseUrl"/>}/chat/completions). Defaults suit a hosted judge model: greedy (temperature 0) and
/// a few output tokens, since only the first letter is read; 30 s per attempt, 3 retries, backoff from 0.5 s
/// doubling up to 10 s, answers of at most 1 MiB. Validation errors name the config field (judge.base_url, judge.model, …).
/// </summary>
public sealed record HttpChatJudgeOptions(Uri BaseUrl, string Model)
{
    /// <summary>The NAME of the environment variable holding the API key, sent as "Authorization: Bearer …". The key
    /// itself never appears in config (configs are committed and logged); null sends no Authorization header.</summary>
    public string? ApiKeyEnvironmentVariable { get; init; }

    /// <summary>Requests in flight at once, across every call to this judge: a hosted endpoint rate-limits, a local
    /// one has a fixed number of batch slots.</summary>
    public int MaxConcurrency { get; init; } = 8;

    /// <summary>Limit of one attempt, request and response body together.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Attempts after the first on a timeout, connection error, 5xx or 429; 0 tries once.</summary>
    public int Retries { get; init; } = 3;

    /// <summary>Wait before the first retry; doubles per retry up to <see cref="MaxBackoff"/>.</summary>
    public TimeSpan BackoffBase { get; init; } = TimeSpan.FromSeconds(0.5);

    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>0 = greedy: a judge should give the same verdict every time it is asked.</summary>
    public double Temperature { get; init; }

    /// <summary>Output tokens per answer; the verdict is the first letter, so a few suffice and cost little.</summary>
    public int MaxTokens { get; init; } = 4;

    /// <summary>Ask each pair in both orders (two requests) and average, cancelling the judge's position bias.</summary>
    public bool BothOrders { get; init; } = true;

    /// <summary>The longest answer read; a longer one fails the request, as a malformed answer does. A completion of
    /// a few tokens is well under 1 KiB, and even one with logprobs or a server's verbose usage block stays in the
    /// tens of KiB, so 1 MiB is ample; with <see cref="MaxConcurrency"/> requests in flight a runaway endpoint costs
    /// a few times that many MiB (bytes, then UTF-16 text) instead of whatever it sends.</summary>
    public int MaxResponseBytes { get; init; } = 1 << 20;

    /// <summary>The range of <see cref="MaxResponseBytes"/>: below 1 KiB a normal completion might not fit; above
    /// 1 GiB the text could not be held as one string anyway.</summary>
    internal const int MinResponseBytes = 1 << 10, MaxResponseBytesLimit = 1 << 30;

    /// <summary>{BaseUrl}/chat/completions, with or without a trailing slash on the base.</summary>
    public Uri Endpoint => new(BaseUrl.AbsoluteUri.TrimEnd('/') + "/chat/completions");

    /// <summary>Throws an ArgumentException naming the first invalid field.</summary>
    public HttpChatJudgeOptions Validated()
    {
        if (BaseUrl is null || !BaseUrl.IsAbsoluteUri || (BaseUrl.Scheme != Uri.UriSchemeHttp && BaseUrl.Scheme != Uri.UriSchemeHttps))
            throw Invalid("judge.base_url", $"'{BaseUrl}' must be an absolute http:// or https:// URL (e.g. http://host:8000/v1)");
        if (string.IsNullOrWhiteSpace(Model)) throw Invalid("judge.model", "is empty: name the model the server should run");
        if (ApiKeyEnvironmentVariable is not null && string.IsNullOrWhiteSpace(ApiKeyEnvironmentVariable))
            throw Invalid("judge.api_key_env", "is blank: name an environment variable, or leave it out to send no API key");
        if (MaxConcurrency is < 1 or > 1024) throw Invalid("judge.max_concurrency", $"= {MaxConcurrency} is out of range 1..1024");
        if (Timeout <= TimeSpan.Zero || Timeout == System.Threading.Timeout.InfiniteTimeSpan)
            throw Invalid("judge.timeout_seconds", $"= {Seconds(Timeout)} must be positive and finite");
        if (Retries is < 0 or > 100) throw Invalid("judge.retries", $"= {Retries} is out of range 0..100");
        if (BackoffBase < TimeSpan.Zero) throw Invalid("judge.backoff_seconds", $"= {Seconds(BackoffBase)} is negative");
        if (MaxBackoff < BackoffBase)
            throw Invalid("judge.max_backoff_seconds", $"= {Seconds(MaxBackoff)} is below judge.backoff_seconds = {Seconds(BackoffBase)}");
        if (!double.IsFinite(Temperature) || Temperature is < 0 or > 2)
            throw Invalid("judge.temperature", $"= {Temperature.ToString(CultureInfo.InvariantCulture)} is out of range 0..2");
        if (MaxTokens is < 1 or > 4096) throw Invalid("judge.max_tokens", $"= {MaxTokens} is out of range 1..4096");
        if (MaxResponseBytes is < MinResponseBytes or > MaxResponseBytesLimit)
            throw Invalid("judge.max_response_bytes", $"= {MaxResponseBytes} is out of range {MinResponseBytes}..{MaxResponseBytesLimit}");
        return this;
    }

    static ArgumentException Invalid(string field, string why) => new($"{field} {why}", field);

    internal static string Seconds(TimeSpan span) => span.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture);
}
