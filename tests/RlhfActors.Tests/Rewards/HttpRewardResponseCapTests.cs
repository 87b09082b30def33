using RlhfActors.Tests.Http;
using RlhfActors.Training.Rewards;

namespace RlhfActors.Tests.Rewards;

/// <summary><see cref="HttpReward"/> reads no more of an answer than <see cref="HttpRewardOptions.MaxResponseBytes"/>.
/// The 50 MiB bodies are generated while sent; each test ends in well under a second when the cap holds.</summary>
public sealed class HttpRewardResponseCapTests
{
    const long FiftyMiB = 50L << 20;
    static readonly RewardRequest[] Batch = [new("1+1=", "2", "2")];

    static HttpReward Reward(Uri url, int maxResponseBytes = 1 << 20, int retries = 3) => new(new HttpRewardOptions(url)
    {
        Timeout = TimeSpan.FromSeconds(10),
        Retries = retries,
        InitialBackoff = TimeSpan.FromMilliseconds(10),
        MaxResponseBytes = maxResponseBytes,
    });

    [Theory]
    [InlineData(false, "its Content-Length is 52428800 bytes")]
    [InlineData(true, "reading stopped there")]
    public async Task A_body_over_the_cap_fails_at_once_naming_the_cap_and_the_url_without_being_read_whole(bool chunked, string how)
    {
        var huge = new HugeBody(FiftyMiB, chunked);
        using var server = new LoopbackHttpServer("/score/", huge.Responder(200));
        using var reward = Reward(server.Url);
        var e = await Assert.ThrowsAsync<InvalidDataException>(() => reward.ScoreAsync(Batch, CancellationToken.None));
        Assert.Contains($"reward server {server.Url} answered a body over the 1 MiB (1048576 bytes) response cap", e.Message);
        Assert.Contains(how, e.Message);
        Assert.Contains("raise the reward arg 'max_response_bytes'", e.Message);
        Assert.Equal(1, server.Hits); // a wrong answer, as a malformed one is: not retried
        Assert.False(await huge.Finished.WaitAsync(TimeSpan.FromSeconds(30)), "the client read the whole 50 MiB");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_body_of_exactly_the_cap_is_read_and_one_byte_more_is_not(bool chunked)
    {
        const int cap = 1024;
        using (var server = new LoopbackHttpServer("/score/", ExactBody.Responder(ExactBody.Padded("{\"scores\": [0.5]}", cap), chunked)))
        using (var reward = Reward(server.Url, cap))
            Assert.Equal(new[] { 0.5 }, await reward.ScoreAsync(Batch, CancellationToken.None));

        using (var server = new LoopbackHttpServer("/score/", ExactBody.Responder(ExactBody.Padded("{\"scores\": [0.5]}", cap + 1), chunked)))
        using (var reward = Reward(server.Url, cap))
            Assert.Contains("1 KiB (1024 bytes) response cap",
                (await Assert.ThrowsAsync<InvalidDataException>(() => reward.ScoreAsync(Batch, CancellationToken.None))).Message);
    }

    [Fact]
    public async Task A_huge_error_body_is_read_only_as_far_as_its_excerpt_and_the_status_is_still_retried()
    {
        var huge = new HugeBody(FiftyMiB, chunked: false);
        using var server = new LoopbackHttpServer("/score/", huge.Responder(503));
        using var reward = Reward(server.Url, retries: 1);
        var e = await Assert.ThrowsAsync<RewardUnavailableException>(() => reward.ScoreAsync(Batch, CancellationToken.None));
        Assert.Contains("503", e.Message);
        Assert.Contains(new string('x', 200) + "…", e.Message);
        Assert.Equal(2, server.Hits);
        Assert.False(await huge.Finished.WaitAsync(TimeSpan.FromSeconds(30)), "the client read the whole 50 MiB");
    }

    [Fact]
    public void The_cap_defaults_to_4_MiB_and_is_checked()
    {
        var url = new Uri("http://127.0.0.1:9/");
        Assert.Equal(4 << 20, new HttpRewardOptions(url).MaxResponseBytes);
        var e = Assert.Throws<ArgumentException>(() => new HttpReward(new HttpRewardOptions(url) { MaxResponseBytes = 100 }));
        Assert.Contains("MaxResponseBytes = 100 is out of range 1024..1073741824", e.Message);
    }
}
