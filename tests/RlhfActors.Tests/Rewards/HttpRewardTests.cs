using System.Diagnostics;
using System.Net;
using System.Text.Json;
using RlhfActors.Tests.Http;
using RlhfActors.Training.Rewards;
using Reply = RlhfActors.Tests.Rewards.LoopbackRewardServer.Reply;

namespace RlhfActors.Tests.Rewards;

public sealed class HttpRewardTests
{
    static readonly RewardRequest[] Batch = [new("1+1=", "2", "2"), new("abc|", "cba", null), new("q", "\"quoted\" ✓", "x")];

    // A roomy timeout where timing is not the point (a cold first request on a busy 2-core machine can take most of
    // a second); a short one where it is. Backoff is small so retries cost little. The defaults (30 s, 3 retries) are
    // checked in the registry tests.
    static HttpReward Reward(Uri url, int retries = 3, int timeoutMs = 5000) => new(new HttpRewardOptions(url)
    {
        Timeout = TimeSpan.FromMilliseconds(timeoutMs),
        Retries = retries,
        InitialBackoff = TimeSpan.FromMilliseconds(10),
    });

    [Fact]
    public async Task Posts_parallel_arrays_and_returns_the_scores()
    {
        using var server = new LoopbackRewardServer(_ => Reply.Scores(0.5, -1, 2.25));
        using var reward = Reward(server.Url);
        Assert.Equal(new[] { 0.5, -1.0, 2.25 }, await reward.ScoreAsync(Batch, CancellationToken.None));

        Assert.Equal(1, server.Hits);
        using var sent = JsonDocument.Parse(server.Bodies.Single());
        string?[] Field(string name) => sent.RootElement.GetProperty(name).EnumerateArray().Select(e => e.GetString()).ToArray();
        Assert.Equal(new[] { "1+1=", "abc|", "q" }, Field("prompts"));
        Assert.Equal(new[] { "2", "cba", "\"quoted\" ✓" }, Field("completions"));
        Assert.Equal(new[] { "2", null, "x" }, Field("references"));
        Assert.False(sent.RootElement.TryGetProperty("columns", out _), "no row has other columns, so none are sent");
    }

    [Fact]
    public async Task The_prompt_lines_other_columns_are_sent_one_list_per_field_as_trl_passes_them()
    {
        using var server = new LoopbackRewardServer(_ => Reply.Scores(1, 0, 1));
        using var reward = Reward(server.Url);
        RewardRequest[] batch = [Batch[0] with { Columns = """{"difficulty": 2, "tests": ["assert f(1) == 2"]}""" }, Batch[1],
            Batch[2] with { Columns = """{"difficulty": 5}""" }];
        await reward.ScoreAsync(batch, CancellationToken.None);
        using var sent = JsonDocument.Parse(server.Bodies.Single());
        var columns = sent.RootElement.GetProperty("columns");
        Assert.Equal("[2,null,5]", columns.GetProperty("difficulty").GetRawText());
        Assert.Equal("""[["assert f(1) == 2"],null,null]""", columns.GetProperty("tests").GetRawText());
    }

    [Fact]
    public async Task An_empty_batch_sends_nothing()
    {
        using var server = new LoopbackRewardServer(_ => Reply.Scores());
        using var reward = Reward(server.Url);
        Assert.Empty(await reward.ScoreAsync([], CancellationToken.None));
        Assert.Equal(0, server.Hits);
    }

    [Theory]
    [InlineData(503)]
    [InlineData(500)]
    [InlineData(429)]
    public async Task Transient_statuses_are_retried_until_success(int status)
    {
        using var server = new LoopbackRewardServer(hit => hit <= 2 ? new Reply(status, "busy") : Reply.Scores(1, 0, 1));
        using var reward = Reward(server.Url);
        Assert.Equal(new[] { 1.0, 0.0, 1.0 }, await reward.ScoreAsync(Batch, CancellationToken.None));
        Assert.Equal(3, server.Hits);
    }

    [Fact]
    public async Task A_server_slower_than_the_timeout_is_retried_then_fails_naming_the_url_and_attempts()
    {
        using var server = new LoopbackRewardServer(async (_, body, stopping) =>
        {
            if (!body.Contains("warm-up", StringComparison.Ordinal)) await Task.Delay(TimeSpan.FromSeconds(5), stopping);
            return Reply.Scores(1);
        });
        using var reward = Reward(server.Url, retries: 2, timeoutMs: 300);
        // A cold first request (JIT, connection set-up) on a busy machine could use up 300 ms before reaching the
        // server and go uncounted; one quick warm-up call makes every counted attempt a real one.
        await reward.ScoreAsync([new("warm-up", "", null)], CancellationToken.None);
        int warmUpHits = server.Hits;
        var clock = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<RewardUnavailableException>(() => reward.ScoreAsync(Batch, CancellationToken.None));
        Assert.Contains(server.Url.ToString(), e.Message);
        Assert.Contains("after 3 attempts", e.Message);
        Assert.Contains("0.3 s", e.Message);
        Assert.IsType<TimeoutException>(e.InnerException);
        // The last attempt reached the server before the client gave up, but the server may count it a moment later.
        for (int i = 0; i < 100 && server.Hits - warmUpHits < 3; i++) await Task.Delay(20);
        Assert.Equal(3, server.Hits - warmUpHits);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(4), $"took {clock.Elapsed}: attempts were not cut at the timeout");
    }

    [Fact]
    public async Task A_client_error_fails_at_once_with_the_status_and_the_start_of_the_body()
    {
        var body = "bad field 'completions'" + new string('.', 300);
        using var server = new LoopbackRewardServer(_ => new Reply(400, body));
        using var reward = Reward(server.Url);
        var e = await Assert.ThrowsAsync<HttpRequestException>(() => reward.ScoreAsync(Batch, CancellationToken.None));
        Assert.Equal(HttpStatusCode.BadRequest, e.StatusCode);
        Assert.Contains("400", e.Message);
        Assert.Contains(server.Url.ToString(), e.Message);
        Assert.Contains(body[..200] + "…", e.Message);
        Assert.DoesNotContain(body[..201], e.Message);
        Assert.Equal(1, server.Hits);
    }

    [Theory]
    [InlineData("{\"scores\": [1, 0]}", "2 scores for a batch of 3")]
    [InlineData("<html>oops</html>", "non-JSON")]
    [InlineData("{\"rewards\": [1, 0, 1]}", "without the field 'scores'")]
    [InlineData("[1, 0, 1]", "expected an object")]
    [InlineData("{\"scores\": 1}", "expected an array of numbers")]
    [InlineData("{\"scores\": [1, \"0\", 1]}", "'scores'[1] as a JSON String")]
    [InlineData("{\"scores\": [1, 0, 1e999]}", "'scores'[2] = 1e999, which is not a finite number")]
    public async Task An_invalid_answer_is_invalid_data_naming_the_url_and_is_not_retried(string answer, string message)
    {
        using var server = new LoopbackRewardServer(_ => new Reply(200, answer));
        using var reward = Reward(server.Url);
        var e = await Assert.ThrowsAsync<InvalidDataException>(() => reward.ScoreAsync(Batch, CancellationToken.None));
        Assert.Contains(server.Url.ToString(), e.Message);
        Assert.Contains(message, e.Message);
        Assert.Equal(1, server.Hits);
    }

    [Fact]
    public async Task A_refused_connection_is_retried_then_fails_naming_the_url()
    {
        var url = new Uri($"http://127.0.0.1:{LoopbackHttpServer.FreePort()}/score");
        using var reward = Reward(url, retries: 1);
        var e = await Assert.ThrowsAsync<RewardUnavailableException>(() => reward.ScoreAsync(Batch, CancellationToken.None));
        Assert.Contains(url.ToString(), e.Message);
        Assert.Contains("after 2 attempts", e.Message);
    }

    [Fact]
    public async Task Cancellation_by_the_caller_is_not_a_timeout_and_is_not_retried()
    {
        var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var server = new LoopbackRewardServer(async (_, _, stopping) =>
        {
            arrived.TrySetResult();
            await Task.Delay(TimeSpan.FromSeconds(5), stopping);
            return Reply.Scores(1, 1, 1);
        });
        using var reward = Reward(server.Url);
        using var cancel = new CancellationTokenSource();
        var scoring = reward.ScoreAsync(Batch, cancel.Token);
        // Cancel only once the request is at the server, so the test does not depend on how fast a cold start is.
        await arrived.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => scoring);
        Assert.Equal(1, server.Hits);
    }

    [Fact]
    public async Task An_injected_client_is_used_and_left_open()
    {
        using var server = new LoopbackRewardServer(_ => Reply.Scores(3, 2, 1));
        using var client = new HttpClient();
        using (var reward = new HttpReward(new HttpRewardOptions(server.Url), client))
            Assert.Equal(new[] { 3.0, 2.0, 1.0 }, await reward.ScoreAsync(Batch, CancellationToken.None));
        using var reward2 = new HttpReward(new HttpRewardOptions(server.Url), client);
        Assert.Equal(new[] { 3.0, 2.0, 1.0 }, await reward2.ScoreAsync(Batch, CancellationToken.None));
    }

    [Fact]
    public async Task A_registry_built_http_reward_composes_with_a_verifier()
    {
        using var server = new LoopbackRewardServer(_ => Reply.Scores(0.5, 1, -2));
        var args = new Dictionary<string, string> { ["url"] = server.Url.ToString(), ["timeout_s"] = "2", ["retries"] = "1" };
        using var reward = RewardRegistry.Create(new RewardSpec(
            new RewardComponentSpec("exact_match", 1.0), new RewardComponentSpec("http", 0.5, args)), "addition");
        RewardRequest[] batch = [new("1+1=", "2", "2"), new("1+2=", "4", "3"), new("2+2=", "4", "4")];
        Assert.Equal(new[] { 1.25, 0.5, 0.0 }, await reward.ScoreAsync(batch, CancellationToken.None));
    }

    [Fact]
    public void Invalid_options_name_the_field()
    {
        var url = new Uri("http://127.0.0.1:9/");
        Assert.Contains("Timeout", Assert.Throws<ArgumentException>(() => new HttpReward(new HttpRewardOptions(url) { Timeout = TimeSpan.Zero })).Message);
        Assert.Contains("Retries", Assert.Throws<ArgumentException>(() => new HttpReward(new HttpRewardOptions(url) { Retries = -1 })).Message);
        Assert.Contains("Url", Assert.Throws<ArgumentException>(() => new HttpReward(new HttpRewardOptions(new Uri("file:///tmp/x")))).Message);
    }
}
