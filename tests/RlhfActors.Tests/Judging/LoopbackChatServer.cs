using System.Text.Json;
using RlhfActors.Tests.Http;

namespace RlhfActors.Tests.Judging;

/// <summary>An OpenAI-style chat-completions endpoint on 127.0.0.1 for <see cref="Training.Judging.HttpChatJudge"/>
/// tests (<see cref="LoopbackHttpServer"/> underneath): it keeps every request and answers with the handler's reply.</summary>
sealed class LoopbackChatServer : IDisposable
{
    public sealed record Reply(int Status, string Body)
    {
        /// <summary>A 200 chat completion whose choices[0].message.content is <paramref name="content"/>.</summary>
        public static Reply Answer(string? content) => new(200, JsonSerializer.Serialize(new
        {
            id = "chatcmpl-test",
            @object = "chat.completion",
            choices = new[] { new { index = 0, message = new { role = "assistant", content }, finish_reason = "stop" } },
        }));
    }

    /// <summary>One request as received: the 1-based hit number, path, raw JSON body and Authorization header.</summary>
    public sealed record Request(int Hit, string Path, string Body, string? Authorization)
    {
        public string UserMessage => Messages().Single(m => m.GetProperty("role").GetString() == "user").GetProperty("content").GetString()!;

        public IEnumerable<JsonElement> Messages()
        {
            using var document = JsonDocument.Parse(Body);
            return document.RootElement.GetProperty("messages").EnumerateArray().Select(m => m.Clone()).ToArray();
        }
    }

    public delegate Task<Reply> Handler(Request request, CancellationToken stopping);

    readonly LoopbackHttpServer _server;
    readonly List<Request> _requests = [];

    public LoopbackChatServer(Handler handler) =>
        _server = new LoopbackHttpServer("/v1/", async (received, stopping) =>
        {
            var request = new Request(received.Hit, received.Path, received.Body, received.Authorization);
            lock (_requests) _requests.Add(request);
            var reply = await handler(request, stopping);
            return (reply.Status, reply.Body);
        });

    public LoopbackChatServer(Func<Request, Reply> reply, TimeSpan delay = default)
        : this(async (request, stopping) =>
        {
            if (delay > TimeSpan.Zero) await Task.Delay(delay, stopping);
            return reply(request);
        })
    { }

    /// <summary>http://127.0.0.1:port/v1/ — a judge POSTs to {BaseUrl}/chat/completions.</summary>
    public Uri BaseUrl => _server.Url;

    public int Hits => _server.Hits;

    public IReadOnlyList<Request> Requests
    {
        get { lock (_requests) return _requests.ToArray(); }
    }

    public void Dispose() => _server.Dispose();
}
