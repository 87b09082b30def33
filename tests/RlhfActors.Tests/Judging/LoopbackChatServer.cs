using System.Net;
using System.Text;
using System.Text.Json;
using RlhfActors.Tests.Rewards;

namespace RlhfActors.Tests.Judging;

/// <summary>A real OpenAI-style chat-completions server on 127.0.0.1 for <see cref="Training.Judging.HttpChatJudge"/>
/// tests: each request is counted and answered by the handler on its own task, so a handler that sleeps holds up
/// neither a retry nor a concurrent request.</summary>
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

    readonly HttpListener _listener;
    readonly Handler _handler;
    readonly CancellationTokenSource _stopping = new();
    readonly List<Request> _requests = [];
    int _hits;

    public LoopbackChatServer(Handler handler)
    {
        _handler = handler;
        (_listener, BaseUrl) = Start();
        _ = AcceptAsync();
    }

    public LoopbackChatServer(Func<Request, Reply> reply, TimeSpan delay = default)
        : this(async (request, stopping) =>
        {
            if (delay > TimeSpan.Zero) await Task.Delay(delay, stopping);
            return reply(request);
        })
    { }

    /// <summary>http://127.0.0.1:port/v1/ — a judge POSTs to {BaseUrl}/chat/completions.</summary>
    public Uri BaseUrl { get; }

    public int Hits => Volatile.Read(ref _hits);

    public IReadOnlyList<Request> Requests
    {
        get { lock (_requests) return _requests.ToArray(); }
    }

    static (HttpListener, Uri) Start()
    {
        // The free port may be taken between probing and binding; a few tries make that race harmless.
        for (int attempt = 1; ; attempt++)
        {
            var url = new Uri($"http://127.0.0.1:{LoopbackRewardServer.FreePort()}/v1/");
            var listener = new HttpListener();
            listener.Prefixes.Add(url.ToString());
            try
            {
                listener.Start();
                return (listener, url);
            }
            catch (HttpListenerException) when (attempt < 5)
            {
                listener.Close();
            }
        }
    }

    async Task AcceptAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return; // stopped
            }
            _ = Task.Run(() => ServeAsync(context));
        }
    }

    async Task ServeAsync(HttpListenerContext context)
    {
        // Counted on arrival, before the body is read: a client that has already given up still made the attempt.
        int hit = Interlocked.Increment(ref _hits);
        try
        {
            string body;
            using (var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8)) body = await reader.ReadToEndAsync();
            var request = new Request(hit, context.Request.Url!.AbsolutePath, body, context.Request.Headers["Authorization"]);
            lock (_requests) _requests.Add(request);
            var reply = await _handler(request, _stopping.Token);
            var bytes = Encoding.UTF8.GetBytes(reply.Body);
            context.Response.StatusCode = reply.Status;
            context.Response.ContentType = "application/json";
            context.Response.ContentLength64 = bytes.Length;
            await context.Response.OutputStream.WriteAsync(bytes);
            context.Response.Close();
        }
        catch (Exception)
        {
            // The client gave up (timeout) or the server is stopping: nothing to answer.
            try { context.Response.Abort(); } catch (ObjectDisposedException) { }
        }
    }

    public void Dispose()
    {
        _stopping.Cancel();
        _listener.Close();
        _stopping.Dispose();
    }
}
