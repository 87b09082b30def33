using System.Text.Json;

namespace RlhfActors.Tests.Http;

/// <summary>Bodies of a server that echoes the request's credentials back, as debug servers, gateways and
/// misconfigured proxies do, in the shapes an error message could quote.</summary>
static class EchoedHeaders
{
    public const string Lines = "lines", Json = "json", AcrossTheCut = "across-the-cut";

    public static string Body(string shape, LoopbackHttpServer.Received request) => shape switch
    {
        // The header dump of a debug server, Authorization first so it falls inside any excerpt.
        Lines => $"unauthorized; request headers were:\nAuthorization: {request.Authorization}\n{request.Headers}",
        Json => JsonSerializer.Serialize(new { error = "unauthorized", headers = new { Authorization = request.Authorization } }),
        // The bare key straddling the 200th character, where an error message's excerpt is cut.
        AcrossTheCut => new string('.', 195) + request.Authorization!["Bearer ".Length..],
        _ => throw new ArgumentOutOfRangeException(nameof(shape), shape, null),
    };

    /// <summary>Neither <paramref name="secret"/> nor <paramref name="marker"/> (a part of it, which a cut could
    /// leave) appears in the exception's message, its inner exceptions' messages, or its ToString().</summary>
    public static void AssertAbsent(Exception e, string secret, string marker)
    {
        Assert.DoesNotContain(marker, e.ToString());
        for (var inner = e; inner is not null; inner = inner.InnerException)
        {
            Assert.DoesNotContain(secret, inner.Message);
            Assert.DoesNotContain(marker, inner.Message);
        }
    }
}
