using System.Globalization;

namespace RlhfActors.Training.Rewards;

/// <summary>Where and how patiently <see cref="HttpReward"/> asks a remote scorer. Defaults suit a reward model
/// served on the cluster: 30 s per attempt (a large judge batch is slow), 3 retries after the first attempt, backoff
/// starting at 0.5 s and doubling up to <see cref="MaxBackoff"/>, answers of at most 4 MiB.</summary>
public sealed record HttpRewardOptions(Uri Url)
{
    internal const string MaxResponseBytesArg = "max_response_bytes";
    internal static readonly string[] ArgNames = ["url", "timeout_s", "retries", "backoff_s", MaxResponseBytesArg];

    /// <summary>The range of <see cref="MaxResponseBytes"/>: below 1 KiB even a small batch's scores would not fit;
    /// above 1 GiB the text could not be held as one string anyway.</summary>
    internal const int MinResponseBytes = 1 << 10, MaxResponseBytesLimit = 1 << 30;

    /// <summary>Limit of one attempt, request and response body together.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Attempts after the first on a timeout, connection error, 5xx or 429; 0 tries once.</summary>
    public int Retries { get; init; } = 3;

    /// <summary>Wait before the first retry; doubles per retry.</summary>
    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromSeconds(0.5);

    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The longest answer read; a longer one fails the call, as a malformed answer does. A score is at most
    /// ~25 bytes of JSON, so 4 MiB holds ~150 000 of them, hundreds of times a real batch, while a runaway body
    /// costs a few times the cap in memory (bytes, then UTF-16 text) instead of all of it.</summary>
    public int MaxResponseBytes { get; init; } = 4 << 20;

    /// <summary>Throws an ArgumentException naming the first invalid field.</summary>
    public HttpRewardOptions Validated()
    {
        if (Url is null || !Url.IsAbsoluteUri || (Url.Scheme != Uri.UriSchemeHttp && Url.Scheme != Uri.UriSchemeHttps))
            throw new ArgumentException($"{nameof(Url)} '{Url}' must be an absolute http:// or https:// URL", nameof(Url));
        if (Timeout <= TimeSpan.Zero || Timeout == System.Threading.Timeout.InfiniteTimeSpan)
            throw new ArgumentException($"{nameof(Timeout)} = {Timeout} must be positive and finite", nameof(Timeout));
        if (Retries < 0 || Retries > 100) throw new ArgumentException($"{nameof(Retries)} = {Retries} is out of range 0..100", nameof(Retries));
        if (InitialBackoff < TimeSpan.Zero) throw new ArgumentException($"{nameof(InitialBackoff)} = {InitialBackoff} is negative", nameof(InitialBackoff));
        if (MaxBackoff < InitialBackoff)
            throw new ArgumentException($"{nameof(MaxBackoff)} = {MaxBackoff} is below {nameof(InitialBackoff)} = {InitialBackoff}", nameof(MaxBackoff));
        if (MaxResponseBytes is < MinResponseBytes or > MaxResponseBytesLimit)
            throw new ArgumentException(
                $"{nameof(MaxResponseBytes)} = {MaxResponseBytes} is out of range {MinResponseBytes}..{MaxResponseBytesLimit}", nameof(MaxResponseBytes));
        return this;
    }

    /// <summary>From config args: url (required), timeout_s, retries, backoff_s (the first retry's wait),
    /// max_response_bytes.</summary>
    internal static HttpRewardOptions FromArgs(RewardArgs args)
    {
        var url = args.Required("url");
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            throw new ArgumentException($"reward '{HttpReward.RewardName}' arg 'url' = '{url}' is not an absolute http:// or https:// URL");
        var defaults = new HttpRewardOptions(uri);
        double timeout = args.Double("timeout_s", defaults.Timeout.TotalSeconds, min: 0.001);
        double backoff = args.Double("backoff_s", defaults.InitialBackoff.TotalSeconds, min: 0);
        if (backoff > defaults.MaxBackoff.TotalSeconds)
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"reward '{HttpReward.RewardName}' arg 'backoff_s' = {backoff} is above the maximum backoff of {defaults.MaxBackoff.TotalSeconds} s"));
        return (defaults with
        {
            Timeout = TimeSpan.FromSeconds(timeout),
            Retries = args.Int("retries", defaults.Retries, 0, 100),
            InitialBackoff = TimeSpan.FromSeconds(backoff),
            MaxResponseBytes = args.Int(MaxResponseBytesArg, defaults.MaxResponseBytes, MinResponseBytes, MaxResponseBytesLimit),
        }).Validated();
    }
}
