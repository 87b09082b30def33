using System.Net;
using System.Net.Sockets;
using System.Text;

namespace RlhfActors.Tests.Rewards;

/// <summary>A real HTTP server on 127.0.0.1 for <see cref="Training.Rewards.HttpReward"/> tests: each request is
/// counted and answered by the handler on its own task, so a handler that sleeps does not hold up a retry.</summary>
sealed class LoopbackRewardServer : IDisposable
{
    public sealed record Reply(int Status, string Body)
    {
        public static Reply Scores(params double[] scores) =>
            new(200, "{\"scores\": [" + string.Join(", ", scores.Select(s => s.ToString(System.Globalization.CultureInfo.InvariantCulture))) + "]}");
    }

    /// <summary>Called with the 1-based hit number, the request body and a token cancelled when the server stops.</summary>
    public delegate Task<Reply> Handler(int hit, string body, CancellationToken stopping);

    readonly HttpListener _listener;
    readonly Handler _handler;
    readonly CancellationTokenSource _stopping = new();
    readonly List<string> _bodies = [];
    int _hits;

    public LoopbackRewardServer(Handler handler)
    {
        _handler = handler;
        (_listener, Url) = Start();
        _ = AcceptAsync();
    }

    public LoopbackRewardServer(Func<int, Reply> reply) : this((hit, _, _) => Task.FromResult(reply(hit))) { }

    public Uri Url { get; }

    public int Hits => Volatile.Read(ref _hits);

    public IReadOnlyList<string> Bodies
    {
        get { lock (_bodies) return _bodies.ToArray(); }
    }

    /// <summary>A port no one listens on: for connection-refused tests.</summary>
    public static int FreePort()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return port;
    }

    static (HttpListener, Uri) Start()
    {
        // The free port may be taken between probing and binding; a few tries make that race harmless.
        for (int attempt = 1; ; attempt++)
        {
            var url = new Uri($"http://127.0.0.1:{FreePort()}/score/");
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
            lock (_bodies) _bodies.Add(body);
            var reply = await _handler(hit, body, _stopping.Token);
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
