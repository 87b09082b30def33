using System.Net.Http.Headers;
using RlhfActors.Tests.Http;
using RlhfActors.Training.Http;
using RlhfActors.Training.Rewards;

namespace RlhfActors.Tests.Rewards;

/// <summary>A reward server behind an authenticating proxy is reached through an injected client that carries the
/// credential; whatever the server echoes back, the credential stays out of every error.</summary>
public sealed class HttpRewardSecretsTests
{
    const string Marker = "SECRET", Key = "sk-" + Marker + "-0123456789abcdef";
    static readonly RewardRequest[] Batch = [new("1+1=", "2", "2")];

    [Theory]
    [InlineData(400, EchoedHeaders.Lines)]
    [InlineData(400, EchoedHeaders.AcrossTheCut)]
    [InlineData(503, EchoedHeaders.Lines)]
    [InlineData(503, EchoedHeaders.Json)]
    [InlineData(200, EchoedHeaders.Lines)]
    [InlineData(200, EchoedHeaders.Json)]
    [InlineData(200, EchoedHeaders.AcrossTheCut)]
    public async Task A_server_echoing_the_credential_never_gets_it_into_an_error(int status, string shape)
    {
        string? received = null;
        using var server = new LoopbackHttpServer("/score/", (request, _) =>
        {
            received = request.Authorization;
            return Task.FromResult((status, EchoedHeaders.Body(shape, request)));
        });
        using var client = new HttpClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Key);
        using var reward = new HttpReward(new HttpRewardOptions(server.Url)
        {
            Timeout = TimeSpan.FromSeconds(5), Retries = 1, InitialBackoff = TimeSpan.FromMilliseconds(10),
        }, client);

        var e = await Assert.ThrowsAnyAsync<Exception>(() => reward.ScoreAsync(Batch, CancellationToken.None));
        Assert.Equal("Bearer " + Key, received); // the server did get the key, so the echo was real
        Assert.IsType(status == 503 ? typeof(RewardUnavailableException) : status == 200 ? typeof(InvalidDataException) : typeof(HttpRequestException), e);
        Assert.Contains(Secrets.Mask, e.Message); // the echo reached the message, masked
        EchoedHeaders.AssertAbsent(e, Key, Marker);
    }
}
