using RlhfActors.Tests.Http;
using RlhfActors.Training.Judging;

namespace RlhfActors.Tests.Judging;

/// <summary><see cref="HttpChatJudge"/> reads no more of an answer than
/// <see cref="HttpChatJudgeOptions.MaxResponseBytes"/> (1 MiB by default). The 50 MiB bodies are generated while
/// sent; each test ends in well under a second when the cap holds.</summary>
public sealed class HttpChatJudgeResponseCapTests
{
    const long FiftyMiB = 50L << 20;
    static readonly PairwiseQuery Query = new("2+3=", "5", "6");

    static HttpChatJudge Judge(Uri baseUrl, int retries = 3) => new(new HttpChatJudgeOptions(baseUrl, "judge-model")
    {
        Timeout = TimeSpan.FromSeconds(10),
        Retries = retries,
        BackoffBase = TimeSpan.FromMilliseconds(10),
        MaxConcurrency = 1,
        BothOrders = false,
    });

    [Theory]
    [InlineData(false, "its Content-Length is 52428800 bytes")]
    [InlineData(true, "reading stopped there")]
    public async Task A_body_over_the_default_cap_fails_at_once_naming_the_cap_and_the_endpoint_without_being_read_whole(bool chunked, string how)
    {
        var huge = new HugeBody(FiftyMiB, chunked);
        using var server = new LoopbackHttpServer("/v1/", huge.Responder(200));
        using var judge = Judge(server.Url);
        var e = await Assert.ThrowsAsync<InvalidDataException>(() => judge.JudgeAsync([Query], CancellationToken.None));
        Assert.Contains($"judge {judge.Endpoint} answered a body over the 1 MiB (1048576 bytes) response cap", e.Message);
        Assert.Contains(how, e.Message);
        Assert.Contains("raise rlaif.judge.max_response_bytes", e.Message);
        Assert.Equal(1, server.Hits); // a wrong answer, as a malformed one is: not retried
        Assert.Equal((0, 1), (judge.Retries, judge.Failures));
        Assert.False(await huge.Finished.WaitAsync(TimeSpan.FromSeconds(30)), "the client read the whole 50 MiB");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_body_of_exactly_the_cap_is_read_and_one_byte_more_is_not(bool chunked)
    {
        const int cap = 1024;
        var answer = LoopbackChatServer.Reply.Answer("A").Body;
        HttpChatJudge CappedJudge(Uri url) => new(new HttpChatJudgeOptions(url, "m") { MaxResponseBytes = cap, BothOrders = false, Retries = 0 });

        using (var server = new LoopbackHttpServer("/v1/", ExactBody.Responder(ExactBody.Padded(answer, cap), chunked)))
        using (var judge = CappedJudge(server.Url))
            Assert.Equal(1.0, (await judge.JudgeAsync([Query], CancellationToken.None)).Single().PreferA);

        using (var server = new LoopbackHttpServer("/v1/", ExactBody.Responder(ExactBody.Padded(answer, cap + 1), chunked)))
        using (var judge = CappedJudge(server.Url))
            Assert.Contains("1 KiB (1024 bytes) response cap",
                (await Assert.ThrowsAsync<InvalidDataException>(() => judge.JudgeAsync([Query], CancellationToken.None))).Message);
    }

    [Fact]
    public async Task A_huge_error_body_is_read_only_as_far_as_its_excerpt_and_the_status_is_still_retried()
    {
        var huge = new HugeBody(FiftyMiB, chunked: true);
        using var server = new LoopbackHttpServer("/v1/", huge.Responder(503));
        using var judge = Judge(server.Url, retries: 1);
        var e = await Assert.ThrowsAsync<JudgeUnavailableException>(() => judge.JudgeAsync([Query], CancellationToken.None));
        Assert.Contains("503", e.Message);
        Assert.Contains(new string('x', 200) + "…", e.Message);
        Assert.Equal(2, server.Hits);
        Assert.Equal([0], e.Pending);
        Assert.False(await huge.Finished.WaitAsync(TimeSpan.FromSeconds(30)), "the client read the whole 50 MiB");
    }

    [Fact]
    public void The_cap_is_checked_by_its_config_name()
    {
        var ok = new HttpChatJudgeOptions(new Uri("http://127.0.0.1:9/v1"), "m");
        Assert.Equal(1 << 20, ok.MaxResponseBytes);
        var e = Assert.Throws<ArgumentException>(() => new HttpChatJudge(ok with { MaxResponseBytes = 100 }));
        Assert.Contains("judge.max_response_bytes = 100 is out of range 1024..1073741824", e.Message);
    }
}
