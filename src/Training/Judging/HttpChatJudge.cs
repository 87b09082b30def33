using System.Net;
using System.Net.Http.Headers;
using System.Runtime.ExceptionServices;
using RlhfActors.Training.Http;

namespace RlhfActors.Training.Judging;

/// <summary>
/// A pairwise judge served by an OpenAI-compatible chat-completions endpoint (vLLM, TGI, llama.cpp, a hosted API).
/// Each pair is asked in both orders (two requests, at most <see cref="HttpChatJudgeOptions.MaxConcurrency"/> in
/// flight across all calls) and the model is told to answer with exactly "A" or "B"; an answer with neither letter
/// is a tie (0.5), counted in <see cref="Unparseable"/>, because one odd answer must not sink a batch.
/// Each attempt has its own timeout; timeouts, connection errors, 5xx and 429 are retried with capped exponential
/// backoff. When retries run out the batch stops (the other requests are cancelled rather than left hammering a
/// dead endpoint) and a <see cref="JudgeUnavailableException"/> hands back what was judged and what was not, so
/// no pair is lost. Any other 4xx, or a 2xx that is not a chat completion or is longer than
/// <see cref="HttpChatJudgeOptions.MaxResponseBytes"/> (read no further than that), is thrown as is: the request or
/// the server is wrong, and asking again later would not help. The API key is masked (<see cref="Secrets"/>) in every
/// message, since an error quotes what the endpoint answered and an endpoint may echo the request's headers.
/// One <see cref="HttpClient"/> serves every call so connections are pooled; an injected client stays the
/// caller's, an owned one is disposed with this judge.
/// </summary>
public sealed class HttpChatJudge : IPairwiseJudge
{
    public const string SystemPrompt =
        "You are an impartial judge. You compare two answers to the same question and decide which one is better: " +
        "correct, helpful and concise. Ignore the order in which the answers are shown. " +
        "Reply with exactly one letter: A or B.";

    /// <summary>{0} = the prompt, {1} = the answer shown as A, {2} = the answer shown as B.</summary>
    public const string UserTemplate =
        "Question:\n{0}\n\nAnswer A:\n{1}\n\nAnswer B:\n{2}\n\nWhich answer is better? Reply with exactly one letter: A or B.";

    readonly HttpClient _client;
    readonly bool _ownsClient;
    readonly SemaphoreSlim _inFlight;
    readonly string? _apiKey;
    readonly string?[] _secrets;
    long _requests, _retries, _failures, _unparseable;

    /// <summary>Reads the API key now, so a missing variable fails at start-up rather than at the first batch.</summary>
    public HttpChatJudge(HttpChatJudgeOptions options, HttpClient? client = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options.Validated();
        if (options.ApiKeyEnvironmentVariable is string variable)
        {
            _apiKey = Environment.GetEnvironmentVariable(variable);
            if (string.IsNullOrEmpty(_apiKey))
                throw new InvalidOperationException(
                    $"judge.api_key_env names the environment variable '{variable}', which is not set: export the judge's API key " +
                    "in it (keys are read only from the environment, never from config), or leave judge.api_key_env out to send none");
        }
        Endpoint = options.Endpoint;
        _inFlight = new SemaphoreSlim(options.MaxConcurrency, options.MaxConcurrency);
        _ownsClient = client is null;
        // The per-attempt timeout is ours; the client's own would cut a slow-but-allowed attempt short. Pooled
        // connections are recycled so an endpoint that moves (new pod, new DNS record) is found again.
        _client = client ?? new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
        {
            Timeout = System.Threading.Timeout.InfiniteTimeSpan,
        };
        // An injected client may carry credentials of its own; read once here, as the client comes configured,
        // since reading its headers while other callers send on it would race.
        _secrets = [_apiKey, _client.DefaultRequestHeaders.Authorization?.Parameter, _client.DefaultRequestHeaders.ProxyAuthorization?.Parameter];
    }

    public HttpChatJudgeOptions Options { get; }

    /// <summary>{BaseUrl}/chat/completions.</summary>
    public Uri Endpoint { get; }

    /// <summary>HTTP attempts sent, retries included.</summary>
    public long Requests => Interlocked.Read(ref _requests);

    /// <summary>Attempts after a request's first (after a timeout, connection error, 5xx or 429).</summary>
    public long Retries => Interlocked.Read(ref _retries);

    /// <summary>Requests that failed for good: retries exhausted, a 4xx, or an answer that is not a chat completion.</summary>
    public long Failures => Interlocked.Read(ref _failures);

    /// <summary>Answers with neither "A" nor "B" at the start, each judged a tie.</summary>
    public long Unparseable => Interlocked.Read(ref _unparseable);

    public async Task<IReadOnlyList<JudgeVerdict>> JudgeAsync(IReadOnlyList<PairwiseQuery> queries, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(queries);
        for (int i = 0; i < queries.Count; i++)
            if (queries[i] is not { Prompt: not null, A: not null, B: not null })
                throw new ArgumentException($"queries[{i}] is null or has a null field", nameof(queries));
        if (queries.Count == 0) return [];

        int orders = Options.BothOrders ? 2 : 1;
        // answers[i, 0] = P(A better) shown A first; answers[i, 1] = the same shown B first, mapped back to A.
        var answers = new double?[queries.Count, orders];
        using var batch = CancellationTokenSource.CreateLinkedTokenSource(ct);
        Exception? failure = null;

        async Task AskOne(int index, int order)
        {
            try
            {
                answers[index, order] = await AskAsync(queries[index], swapped: order == 1, batch).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (batch.IsCancellationRequested)
            {
                // Cancelled by the caller or because another request failed for good: the query stays pending.
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref failure, e, null);
            }
        }

        var asks = new List<Task>(queries.Count * orders);
        for (int i = 0; i < queries.Count; i++)
            for (int order = 0; order < orders; order++)
                asks.Add(AskOne(i, order));
        await Task.WhenAll(asks).ConfigureAwait(false);

        ct.ThrowIfCancellationRequested();
        if (failure is RetriesExhaustedException down)
        {
            var completed = new Dictionary<int, JudgeVerdict>();
            var pending = new List<int>();
            for (int i = 0; i < queries.Count; i++)
            {
                if (Verdict(answers, i) is JudgeVerdict verdict) completed[i] = verdict;
                else pending.Add(i);
            }
            throw new JudgeUnavailableException(Secrets.Redact(
                $"judge {Endpoint} failed after {down.Attempts} attempts ({HttpChatJudgeOptions.Seconds(Options.Timeout)} s timeout each): " +
                $"{down.InnerException?.Message}; {completed.Count} of {queries.Count} pairs judged, {pending.Count} pending", _secrets),
                down.InnerException, completed, pending);
        }
        if (failure is not null) ExceptionDispatchInfo.Throw(failure);

        var verdicts = new JudgeVerdict[queries.Count];
        for (int i = 0; i < queries.Count; i++) verdicts[i] = Verdict(answers, i)!;
        return verdicts;
    }

    static JudgeVerdict? Verdict(double?[,] answers, int index)
    {
        if (answers[index, 0] is not double aFirst) return null;
        if (answers.GetLength(1) == 1) return JudgeVerdict.FromOrders(aFirst, null);
        return answers[index, 1] is double bFirst ? JudgeVerdict.FromOrders(aFirst, bFirst) : null;
    }

    /// <summary>One presentation order, retried: P(the query's A is better) ∈ {0, 0.5, 1}. A permanent failure
    /// cancels <paramref name="batch"/> before this request's slot is freed, so no queued request starts after it.</summary>
    async Task<double> AskAsync(PairwiseQuery query, bool swapped, CancellationTokenSource batch)
    {
        var token = batch.Token;
        await _inFlight.WaitAsync(token).ConfigureAwait(false);
        try
        {
            token.ThrowIfCancellationRequested();
            var body = swapped
                ? ChatJudgeProtocol.EncodeRequest(Options, query.Prompt, query.B, query.A)
                : ChatJudgeProtocol.EncodeRequest(Options, query.Prompt, query.A, query.B);
            string? content;
            try
            {
                content = await PostWithRetriesAsync(body, token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException || !token.IsCancellationRequested)
            {
                Interlocked.Increment(ref _failures);
                await batch.CancelAsync().ConfigureAwait(false);
                throw;
            }
            switch (ChatJudgeProtocol.ParseChoice(content))
            {
                case 'A': return swapped ? 0.0 : 1.0;
                case 'B': return swapped ? 1.0 : 0.0;
                default:
                    Interlocked.Increment(ref _unparseable);
                    return 0.5;
            }
        }
        finally
        {
            _inFlight.Release();
        }
    }

    async Task<string?> PostWithRetriesAsync(byte[] body, CancellationToken ct)
    {
        int attempts = Options.Retries + 1;
        Exception? lastError = null;
        for (int attempt = 1; attempt <= attempts; attempt++)
        {
            if (attempt > 1)
            {
                Interlocked.Increment(ref _retries);
                await Task.Delay(Backoff(attempt - 1), ct).ConfigureAwait(false);
            }
            var (answered, content, transientError) = await AttemptAsync(body, ct).ConfigureAwait(false);
            if (answered) return content;
            lastError = transientError;
        }
        throw new RetriesExhaustedException(attempts, lastError!);
    }

    /// <summary>One POST: the message content, or the error worth retrying. Errors not worth retrying are thrown.</summary>
    async Task<(bool Answered, string? Content, Exception? TransientError)> AttemptAsync(byte[] body, CancellationToken ct)
    {
        using var attemptCts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        attemptCts.CancelAfter(Options.Timeout);
        Interlocked.Increment(ref _requests);
        HttpRequestException statusError;
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, Endpoint) { Content = new ByteArrayContent(body) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
            // Per request, not on DefaultRequestHeaders: an injected client may be shared with other callers.
            if (_apiKey is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _apiKey);
            // Headers only: the body is read below, no more of it than the cap.
            using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, attemptCts.Token).ConfigureAwait(false);
            if (response.IsSuccessStatusCode)
            {
                var text = await ResponseBody.ReadAsync(response.Content, Options.MaxResponseBytes, $"judge {Endpoint}",
                    "rlaif.judge.max_response_bytes", attemptCts.Token).ConfigureAwait(false);
                return (true, ChatJudgeProtocol.ParseContent(text, Endpoint, _secrets), null);
            }
            // An error's body only serves the message's excerpt: read that much, however long the body.
            var (start, _) = await ResponseBody.ReadPrefixAsync(response.Content, ResponseBody.ExcerptBytes, attemptCts.Token).ConfigureAwait(false);
            statusError = new HttpRequestException(
                Secrets.Redact($"judge {Endpoint} answered {(int)response.StatusCode} {response.ReasonPhrase}: ", _secrets)
                + ResponseBody.Excerpt(start, _secrets), null, response.StatusCode);
        }
        catch (OperationCanceledException e) when (!ct.IsCancellationRequested)
        {
            return (false, null, new TimeoutException(
                $"no answer from {Endpoint} within {HttpChatJudgeOptions.Seconds(Options.Timeout)} s", e));
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            // Connection refused / reset, DNS failure, a body cut off: the server may be restarting.
            return (false, null, e);
        }

        var status = statusError.StatusCode!.Value;
        if ((int)status >= 500 || status == HttpStatusCode.TooManyRequests) return (false, null, statusError);
        throw statusError;
    }

    /// <summary>BackoffBase · 2^(retry−1), capped, with "equal jitter" (a uniform draw in the upper half) so
    /// many requests hit by the same outage spread their retries instead of returning in lock-step.</summary>
    TimeSpan Backoff(int retry)
    {
        double full = Math.Min(Options.MaxBackoff.TotalMilliseconds, Options.BackoffBase.TotalMilliseconds * Math.Pow(2, retry - 1));
        return TimeSpan.FromMilliseconds(full / 2 + Random.Shared.NextDouble() * full / 2);
    }

    public void Dispose()
    {
        if (_ownsClient) _client.Dispose();
        _inFlight.Dispose();
    }

    /// <summary>Every attempt of one request failed transiently; becomes a <see cref="JudgeUnavailableException"/>
    /// once the batch knows which pairs are done.</summary>
    sealed class RetriesExhaustedException(int attempts, Exception lastError) : Exception(lastError.Message, lastError)
    {
        public int Attempts { get; } = attempts;
    }
}
