using RlhfActors.Tests.Http;
using RlhfActors.Training.Http;
using RlhfActors.Training.Judging;

namespace RlhfActors.Tests.Judging;

/// <summary>The judge's API key (from judge.api_key_env) is sent to the endpoint and nowhere else: whatever the
/// endpoint echoes back, the key stays out of every error, and so out of the grain's log and status.error.</summary>
public sealed class HttpChatJudgeSecretsTests
{
    const string Marker = "SECRET";
    static readonly PairwiseQuery Query = new("2+3=", "5", "6");

    [Theory]
    [InlineData(401, EchoedHeaders.Lines)]
    [InlineData(401, EchoedHeaders.AcrossTheCut)]
    [InlineData(500, EchoedHeaders.Lines)]
    [InlineData(500, EchoedHeaders.Json)]
    [InlineData(200, EchoedHeaders.Lines)]
    [InlineData(200, EchoedHeaders.Json)]
    [InlineData(200, EchoedHeaders.AcrossTheCut)]
    public async Task An_endpoint_echoing_the_key_never_gets_it_into_an_error(int status, string shape)
    {
        var variable = "RLHF_JUDGE_TEST_KEY_" + Guid.NewGuid().ToString("N");
        var key = $"sk-{Marker}-{Guid.NewGuid():N}";
        Environment.SetEnvironmentVariable(variable, key);
        try
        {
            string? received = null;
            using var server = new LoopbackHttpServer("/v1/", (request, _) =>
            {
                received = request.Authorization;
                return Task.FromResult((status, EchoedHeaders.Body(shape, request)));
            });
            using var judge = new HttpChatJudge(new HttpChatJudgeOptions(server.Url, "judge-model")
            {
                ApiKeyEnvironmentVariable = variable, Timeout = TimeSpan.FromSeconds(5), Retries = 1,
                BackoffBase = TimeSpan.FromMilliseconds(10), MaxConcurrency = 1, BothOrders = false,
            });

            var e = await Assert.ThrowsAnyAsync<Exception>(() => judge.JudgeAsync([Query], CancellationToken.None));
            Assert.Equal("Bearer " + key, received); // the endpoint did get the key, so the echo was real
            Assert.IsType(status == 500 ? typeof(JudgeUnavailableException) : status == 200 ? typeof(InvalidDataException) : typeof(HttpRequestException), e);
            Assert.Contains(Secrets.Mask, e.Message); // the echo reached the message, masked
            EchoedHeaders.AssertAbsent(e, key, Marker);
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }
}
