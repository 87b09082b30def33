using System.Net;
using System.Text.Json;
using RlhfActors.Training.Judging;
using Reply = RlhfActors.Tests.Judging.LoopbackChatServer.Reply;
using Request = RlhfActors.Tests.Judging.LoopbackChatServer.Request;

namespace RlhfActors.Tests.Judging;

public sealed class HttpChatJudgeTests
{
    static readonly PairwiseQuery RightFirst = new("2+3=", "5", "6");
    static readonly PairwiseQuery RightSecond = new("2+3=", "6", "5");

    // A roomy timeout where timing is not the point (a cold first request on a busy 2-core machine can take most of a
    // second); a short one where it is. Backoff is small so retries cost little.
    static HttpChatJudge Judge(Uri baseUrl, int retries = 3, int timeoutMs = 5000, int concurrency = 4, bool bothOrders = true,
        string? keyVariable = null) => new(new HttpChatJudgeOptions(baseUrl, "judge-model")
    {
        Timeout = TimeSpan.FromMilliseconds(timeoutMs),
        Retries = retries,
        BackoffBase = TimeSpan.FromMilliseconds(10),
        MaxConcurrency = concurrency,
        BothOrders = bothOrders,
        ApiKeyEnvironmentVariable = keyVariable,
    });

    /// <summary>The candidate the user message shows as "A".</summary>
    static string ShownAsA(Request request)
    {
        var user = request.UserMessage;
        int start = user.IndexOf("Answer A:\n", StringComparison.Ordinal) + "Answer A:\n".Length;
        return user[start..user.IndexOf("\n\nAnswer B:", start, StringComparison.Ordinal)];
    }

    /// <summary>A perfect judge of "2+3=": picks whichever position shows "5".</summary>
    static Reply Correct(Request request) => Reply.Answer(ShownAsA(request) == "5" ? "A" : "B");

    [Fact]
    public async Task A_correct_judge_prefers_the_right_answer_in_either_query_order()
    {
        var variable = "RLHF_JUDGE_TEST_KEY_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(variable, "sk-test-" + variable);
        try
        {
            using var server = new LoopbackChatServer(Correct);
            using var judge = Judge(server.BaseUrl, keyVariable: variable);
            var verdicts = await judge.JudgeAsync([RightFirst, RightSecond], CancellationToken.None);

            Assert.Equal([new JudgeVerdict(1.0, true), new JudgeVerdict(0.0, true)], verdicts);
            Assert.Equal(4, server.Hits);
            Assert.Equal(4, judge.Requests);
            Assert.Equal(0, judge.Retries);
            // Each candidate was shown in both positions.
            Assert.Equal(2, server.Requests.Count(r => ShownAsA(r) == "5"));
            foreach (var request in server.Requests)
            {
                Assert.Equal("/v1/chat/completions", request.Path);
                Assert.Equal("Bearer sk-test-" + variable, request.Authorization);
                using var body = JsonDocument.Parse(request.Body);
                Assert.Equal("judge-model", body.RootElement.GetProperty("model").GetString());
                Assert.Equal(0.0, body.RootElement.GetProperty("temperature").GetDouble());
                Assert.Equal(4, body.RootElement.GetProperty("max_tokens").GetInt32());
                Assert.Equal(["system", "user"], request.Messages().Select(m => m.GetProperty("role").GetString()));
                Assert.Equal(HttpChatJudge.SystemPrompt, request.Messages().First().GetProperty("content").GetString());
                Assert.Contains("2+3=", request.UserMessage);
            }
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }

    [Fact]
    public async Task Without_a_key_variable_no_authorization_header_is_sent()
    {
        using var server = new LoopbackChatServer(Correct);
        using var judge = Judge(server.BaseUrl);
        Assert.Equal(1.0, (await judge.JudgeAsync([RightFirst], CancellationToken.None))[0].PreferA);
        Assert.All(server.Requests, r => Assert.Null(r.Authorization));
    }

    [Fact]
    public void A_missing_key_variable_is_an_error_naming_it()
    {
        var variable = "RLHF_JUDGE_TEST_UNSET_" + Guid.NewGuid().ToString("N");
        var e = Assert.Throws<InvalidOperationException>(() => Judge(new Uri("http://127.0.0.1:9/v1"), keyVariable: variable));
        Assert.Contains($"'{variable}'", e.Message);
        Assert.Contains("not set", e.Message);
    }

    [Fact]
    public async Task A_position_biased_judge_cancels_out_to_a_tie_whose_orders_disagree()
    {
        using var server = new LoopbackChatServer(_ => Reply.Answer("A"));
        using var judge = Judge(server.BaseUrl);
        var verdicts = await judge.JudgeAsync([RightFirst, RightSecond, new("q", "x", "y")], CancellationToken.None);
        Assert.All(verdicts, v => Assert.Equal(new JudgeVerdict(0.5, false), v));
    }

    [Theory]
    [InlineData("A", 1.0)]
    [InlineData(" a.", 1.0)]
    [InlineData("**B**", 0.0)]
    [InlineData("(b) because it is right", 0.0)]
    [InlineData("\"B\"\n", 0.0)]
    [InlineData("Answer: A", 0.5)]
    [InlineData("Absolutely", 0.5)]
    [InlineData("", 0.5)]
    [InlineData(null, 0.5)]
    public async Task The_leading_letter_is_the_answer_and_anything_else_is_an_unparseable_tie(string? content, double preferA)
    {
        using var server = new LoopbackChatServer(_ => Reply.Answer(content));
        using var judge = Judge(server.BaseUrl, bothOrders: false);
        var verdict = (await judge.JudgeAsync([RightFirst], CancellationToken.None)).Single();
        Assert.Equal(preferA, verdict.PreferA);
        Assert.Equal(preferA != 0.5, verdict.OrdersAgree);
        Assert.Equal(preferA == 0.5 ? 1 : 0, judge.Unparseable);
        Assert.Equal(0, judge.Failures);
    }

    [Fact]
    public async Task Unparseable_answers_in_both_orders_count_twice_and_give_a_tie()
    {
        using var server = new LoopbackChatServer(_ => Reply.Answer("I cannot decide."));
        using var judge = Judge(server.BaseUrl);
        Assert.Equal(new JudgeVerdict(0.5, false), (await judge.JudgeAsync([RightFirst], CancellationToken.None)).Single());
        Assert.Equal(2, judge.Unparseable);
    }

    [Theory]
    [InlineData(503)]
    [InlineData(500)]
    [InlineData(429)]
    public async Task Transient_statuses_are_retried_until_success(int status)
    {
        using var server = new LoopbackChatServer(r => r.Hit <= 2 ? new Reply(status, "busy") : Correct(r));
        using var judge = Judge(server.BaseUrl);
        Assert.Equal([new JudgeVerdict(1.0, true)], await judge.JudgeAsync([RightFirst], CancellationToken.None));
        Assert.Equal(2, judge.Retries);
        Assert.Equal(4, judge.Requests);
        Assert.Equal(4, server.Hits);
        Assert.Equal(0, judge.Failures);
    }

    [Fact]
    public async Task An_attempt_slower_than_the_timeout_is_retried()
    {
        using var server = new LoopbackChatServer(async (r, stopping) =>
        {
            if (r.Hit == 1) await Task.Delay(TimeSpan.FromSeconds(5), stopping);
            return Correct(r);
        });
        using var judge = Judge(server.BaseUrl, retries: 5, timeoutMs: 200, concurrency: 1);
        Assert.Equal([new JudgeVerdict(0.0, true)], await judge.JudgeAsync([RightSecond], CancellationToken.None));
        Assert.True(judge.Retries >= 1, $"retries {judge.Retries}");
        Assert.True(server.Hits >= 3, $"hits {server.Hits}");
    }

    [Fact]
    public async Task An_endpoint_that_stays_down_keeps_every_pair_as_completed_or_pending_and_stops_asking()
    {
        using var server = new LoopbackChatServer(_ => new Reply(503, "down for maintenance"));
        using var judge = Judge(server.BaseUrl, retries: 2, concurrency: 2);
        var queries = Enumerable.Range(0, 5).Select(i => new PairwiseQuery($"q{i}", "x", "y")).ToArray();
        var e = await Assert.ThrowsAsync<JudgeUnavailableException>(() => judge.JudgeAsync(queries, CancellationToken.None));

        Assert.Contains(judge.Endpoint.ToString(), e.Message);
        Assert.Contains("after 3 attempts", e.Message);
        Assert.Contains("503", e.Message);
        Assert.IsType<HttpRequestException>(e.InnerException);
        Assert.NotEmpty(e.Pending);
        Assert.Equal(Enumerable.Range(0, 5), e.Completed.Keys.Concat(e.Pending).Order());
        // Once one request gave up, the rest were cancelled: at most the two slots' attempts reached the server.
        Assert.True(server.Hits <= 2 * 3, $"hits {server.Hits}");
        Assert.True(judge.Failures >= 1);
    }

    [Fact]
    public async Task Pairs_judged_before_the_endpoint_went_down_are_handed_back()
    {
        using var server = new LoopbackChatServer(r => r.UserMessage.Contains("down", StringComparison.Ordinal) ? new Reply(502, "bad gateway") : Correct(r));
        using var judge = Judge(server.BaseUrl, retries: 1, concurrency: 1);
        PairwiseQuery[] queries = [RightFirst, new("down", "5", "6"), RightSecond];
        var e = await Assert.ThrowsAsync<JudgeUnavailableException>(() => judge.JudgeAsync(queries, CancellationToken.None));

        Assert.Contains(1, e.Pending);
        Assert.Equal([0, 1, 2], e.Completed.Keys.Concat(e.Pending).Order());
        Assert.Equal(e.Pending.Order(), e.Pending);
        Assert.Contains(0, e.Completed.Keys); // asked first, while the endpoint still answered
        foreach (var (index, verdict) in e.Completed)
            Assert.Equal(index == 2 ? new JudgeVerdict(0.0, true) : new JudgeVerdict(1.0, true), verdict);
    }

    [Fact]
    public async Task A_client_error_fails_at_once_with_the_status_and_the_start_of_the_body()
    {
        var body = "unknown model 'judge-model'" + new string('.', 300);
        using var server = new LoopbackChatServer(_ => new Reply(400, body));
        using var judge = Judge(server.BaseUrl, concurrency: 1);
        var e = await Assert.ThrowsAsync<HttpRequestException>(() => judge.JudgeAsync([RightFirst], CancellationToken.None));
        Assert.Equal(HttpStatusCode.BadRequest, e.StatusCode);
        Assert.Contains("400", e.Message);
        Assert.Contains(judge.Endpoint.ToString(), e.Message);
        Assert.Contains(body[..200] + "…", e.Message);
        Assert.Equal(1, server.Hits);
        Assert.Equal(0, judge.Retries);
        Assert.Equal(1, judge.Failures);
    }

    [Fact]
    public async Task A_success_that_is_not_a_chat_completion_is_invalid_data_and_not_retried()
    {
        using var server = new LoopbackChatServer(_ => new Reply(200, "{\"choices\": []}"));
        using var judge = Judge(server.BaseUrl, concurrency: 1);
        var e = await Assert.ThrowsAsync<InvalidDataException>(() => judge.JudgeAsync([RightFirst], CancellationToken.None));
        Assert.Contains("choices[0].message", e.Message);
        Assert.Equal(1, server.Hits);
    }

    [Fact]
    public async Task In_flight_requests_never_exceed_max_concurrency()
    {
        int inFlight = 0, maxInFlight = 0;
        using var server = new LoopbackChatServer(async (r, stopping) =>
        {
            int now = Interlocked.Increment(ref inFlight);
            InterlockedMax(ref maxInFlight, now);
            await Task.Delay(100, stopping);
            Interlocked.Decrement(ref inFlight);
            return Correct(r);
        });
        using var judge = Judge(server.BaseUrl, concurrency: 2);
        var verdicts = await judge.JudgeAsync(Enumerable.Repeat(RightFirst, 4).ToArray(), CancellationToken.None);
        Assert.All(verdicts, v => Assert.Equal(new JudgeVerdict(1.0, true), v));
        Assert.Equal(8, server.Hits);
        Assert.Equal(2, Volatile.Read(ref maxInFlight));

        static void InterlockedMax(ref int target, int value)
        {
            int seen;
            while (value > (seen = Volatile.Read(ref target)) && Interlocked.CompareExchange(ref target, value, seen) != seen) { }
        }
    }

    [Fact]
    public async Task Cancellation_by_the_caller_is_not_a_timeout_and_is_not_retried()
    {
        var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var server = new LoopbackChatServer(async (r, stopping) =>
        {
            arrived.TrySetResult();
            await Task.Delay(TimeSpan.FromSeconds(5), stopping);
            return Correct(r);
        });
        using var judge = Judge(server.BaseUrl, concurrency: 1);
        using var cancel = new CancellationTokenSource();
        var judging = judge.JudgeAsync([RightFirst, RightSecond], cancel.Token);
        // Cancel only once a request is at the server, so the test does not depend on how fast a cold start is.
        await arrived.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => judging);
        Assert.Equal(1, server.Hits);
        Assert.Equal(0, judge.Retries);
        Assert.Equal(0, judge.Failures);
    }

    [Fact]
    public async Task An_empty_batch_sends_nothing()
    {
        using var server = new LoopbackChatServer(Correct);
        using var judge = Judge(server.BaseUrl);
        Assert.Empty(await judge.JudgeAsync([], CancellationToken.None));
        Assert.Equal(0, server.Hits);
    }

    [Fact]
    public void The_endpoint_is_chat_completions_under_the_base_url_with_or_without_a_slash()
    {
        Assert.Equal("http://h:8000/v1/chat/completions", new HttpChatJudgeOptions(new Uri("http://h:8000/v1"), "m").Endpoint.ToString());
        Assert.Equal("http://h:8000/v1/chat/completions", new HttpChatJudgeOptions(new Uri("http://h:8000/v1/"), "m").Endpoint.ToString());
    }

    [Fact]
    public void Invalid_options_name_the_config_field()
    {
        var ok = new HttpChatJudgeOptions(new Uri("http://127.0.0.1:9/v1"), "m");
        string Field(HttpChatJudgeOptions options) => Assert.Throws<ArgumentException>(() => new HttpChatJudge(options)).Message;
        Assert.Contains("judge.base_url", Field(ok with { BaseUrl = new Uri("file:///tmp/x") }));
        Assert.Contains("judge.model", Field(ok with { Model = " " }));
        Assert.Contains("judge.max_concurrency", Field(ok with { MaxConcurrency = 0 }));
        Assert.Contains("judge.timeout_seconds", Field(ok with { Timeout = TimeSpan.Zero }));
        Assert.Contains("judge.retries", Field(ok with { Retries = -1 }));
        Assert.Contains("judge.max_tokens", Field(ok with { MaxTokens = 0 }));
        Assert.Contains("judge.temperature", Field(ok with { Temperature = double.NaN }));
        Assert.Contains("judge.api_key_env", Field(ok with { ApiKeyEnvironmentVariable = "" }));
    }
}
