using System.Text;

namespace RlhfActors.Tests.Http;

/// <summary>A responder for <see cref="LoopbackHttpServer"/> that sends <paramref name="body"/> with status 200,
/// its Content-Length declared or chunked: for the tests of a body just at, or just past, a client's cap.</summary>
static class ExactBody
{
    public static LoopbackHttpServer.Responder Responder(string body, bool chunked) => async (_, response, stopping) =>
    {
        var bytes = Encoding.UTF8.GetBytes(body);
        response.StatusCode = 200;
        response.ContentType = "application/json";
        if (chunked) response.SendChunked = true;
        else response.ContentLength64 = bytes.Length;
        await response.OutputStream.WriteAsync(bytes, stopping);
    };

    /// <summary><paramref name="json"/> followed by spaces (JSON allows trailing whitespace) up to exactly
    /// <paramref name="bytes"/> bytes of UTF-8.</summary>
    public static string Padded(string json, int bytes) => json + new string(' ', bytes - Encoding.UTF8.GetByteCount(json));
}
