using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using RlhfActors.Training.Http;

namespace RlhfActors.Training.Rewards;

/// <summary>
/// A reward computed by a remote server (a learned reward model, a judge, a sandboxed code runner): POSTs the batch
/// as JSON (<see cref="HttpRewardProtocol"/>) and reads one score per completion.
/// Each attempt has its own timeout; timeouts, connection errors, 5xx and 429 are retried with exponential backoff,
/// because a reward server restarting or shedding load must not kill a training run. Any other 4xx fails at once
/// (the request itself is wrong; repeating it cannot help), and so does a 2xx whose body is not a valid answer
/// (a server bug, surfaced as an InvalidDataException naming the URL), or one longer than
/// <see cref="HttpRewardOptions.MaxResponseBytes"/> (read no further than that). Credentials the client sends are
/// masked (<see cref="Secrets"/>) in every message, since an error quotes what the server answered.
/// One <see cref="HttpClient"/> serves every call so connections are pooled; an injected client stays the
/// caller's, an owned one is disposed with this reward.
/// </summary>
public sealed class HttpReward : IRewardFunction, IDisposable
{
    public const string RewardName = "http";

    readonly HttpClient _client;
    readonly bool _ownsClient;
    readonly string?[] _secrets;

    public HttpReward(HttpRewardOptions options, HttpClient? client = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options.Validated();
        _ownsClient = client is null;
        // The per-attempt timeout is ours; the client's own timeout would cut a slow-but-allowed attempt short.
        // A run lasts hours: recycling pooled connections lets a reward service that moves (new pod, new DNS
        // record) be found again, which a client living as long as the run would otherwise never do.
        _client = client ?? new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
        {
            Timeout = System.Threading.Timeout.InfiniteTimeSpan,
        };
        // This reward sends no credentials itself, but an injected client may (a scorer behind an authenticating
        // proxy): those are masked in every message. Read once here, as the client comes configured; reading its
        // headers while other callers send on it would race.
        _secrets = [_client.DefaultRequestHeaders.Authorization?.Parameter, _client.DefaultRequestHeaders.ProxyAuthorization?.Parameter];
    }

    public HttpRewardOptions Options { get; }

    public string Name => RewardName;

    public async Task<double[]> ScoreAsync(IReadOnlyList<RewardRequest> batch, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(batch);
        for (int i = 0; i < batch.Count; i++)
            if (batch[i] is null) throw new ArgumentException($"batch[{i}] is null", nameof(batch));
        if (batch.Count == 0) return [];

        var body = HttpRewardProtocol.EncodeRequest(batch);
        int attempts = Options.Retries + 1;
        Exception? lastError = null;
        for (int attempt = 1; attempt <= attempts; attempt++)
        {
            if (attempt > 1) await Task.Delay(Backoff(attempt - 1), ct).ConfigureAwait(false);
            var (scores, transientError) = await AttemptAsync(body, batch.Count, ct).ConfigureAwait(false);
            if (scores is not null) return scores;
            lastError = transientError;
        }
        throw new RewardUnavailableException(Secrets.Redact(
            $"reward server {Options.Url} failed after {attempts} attempts ({Seconds(Options.Timeout)} s timeout each): {lastError?.Message}",
            _secrets), lastError);
    }

    /// <summary>One POST: the scores, or the error worth retrying. Errors not worth retrying are thrown.</summary>
    async Task<(double[]? Scores, Exception? TransientError)> AttemptAsync(byte[] body, int count, CancellationToken ct)
    {
        using var attemptCts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        attemptCts.CancelAfter(Options.Timeout);
        HttpRequestException statusError;
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, Options.Url) { Content = new ByteArrayContent(body) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
            // Headers only: the body is read below, no more of it than the cap.
            using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, attemptCts.Token).ConfigureAwait(false);
            if (response.IsSuccessStatusCode)
            {
                var text = await ResponseBody.ReadAsync(response.Content, Options.MaxResponseBytes, $"reward server {Options.Url}",
                    $"the reward arg '{HttpRewardOptions.MaxResponseBytesArg}'", attemptCts.Token).ConfigureAwait(false);
                return (HttpRewardProtocol.ParseScores(text, count, Options.Url, _secrets), null);
            }
            // An error's body only serves the message's excerpt: read that much, however long the body.
            var (start, _) = await ResponseBody.ReadPrefixAsync(response.Content, ResponseBody.ExcerptBytes, attemptCts.Token).ConfigureAwait(false);
            statusError = new HttpRequestException(
                Secrets.Redact($"reward server {Options.Url} answered {(int)response.StatusCode} {response.ReasonPhrase}: ", _secrets)
                + ResponseBody.Excerpt(start, _secrets), null, response.StatusCode);
        }
        catch (OperationCanceledException e) when (!ct.IsCancellationRequested)
        {
            return (null, new TimeoutException($"no answer from {Options.Url} within {Seconds(Options.Timeout)} s", e));
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            // Connection refused / reset, DNS failure, a body cut off: the server may be restarting.
            return (null, e);
        }

        var status = statusError.StatusCode!.Value;
        if ((int)status >= 500 || status == HttpStatusCode.TooManyRequests) return (null, statusError);
        throw statusError;
    }

    /// <summary>InitialBackoff · 2^(retry−1), capped, with "equal jitter" (a uniform draw in the upper half): many
    /// samplers hit by the same outage then spread their retries instead of returning in lock-step.</summary>
    TimeSpan Backoff(int retry)
    {
        double full = Math.Min(Options.MaxBackoff.TotalMilliseconds, Options.InitialBackoff.TotalMilliseconds * Math.Pow(2, retry - 1));
        return TimeSpan.FromMilliseconds(full / 2 + Random.Shared.NextDouble() * full / 2);
    }

    static string Seconds(TimeSpan span) => span.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture);

    public void Dispose()
    {
        if (_ownsClient) _client.Dispose();
    }
}
