using System.Net;
using System.Net.Sockets;
using System.Text;

namespace RlhfActors.Tests.Http;

/// <summary>A real HTTP server on 127.0.0.1 for the tests of HTTP clients (rewards, judges): each request is counted
/// on arrival and answered by the handler on its own task, so a handler that sleeps holds up neither a retry nor a
/// concurrent request. <see cref="LoopbackHttpServer"/> knows no protocol; the servers built on it speak one.</summary>
sealed class LoopbackHttpServer : IDisposable
{
    /// <summary>One request as received: the 1-based hit number, path, raw body, Authorization header, and every
    /// header as "Name: value" lines (what a debug server that echoes headers would send back).</summary>
    public sealed record Received(int Hit, string Path, string Body, string? Authorization, string Headers);

    public delegate Task<(int Status, string Body)> Handler(Received request, CancellationToken stopping);

    /// <summary>Writes the whole response itself (status, headers, body): for bodies too large to hold as a string.
    /// The server closes the response afterwards, or aborts it if the responder throws.</summary>
    public delegate Task Responder(Received request, HttpListenerResponse response, CancellationToken stopping);

    readonly HttpListener _listener;
    readonly Responder _responder;
    readonly CancellationTokenSource _stopping = new();
    int _hits;

    /// <param name="path">The path served, e.g. "/v1/" (a client adds what follows it).</param>
    public LoopbackHttpServer(string path, Handler handler) : this(path, async (request, response, stopping) =>
    {
        var (status, reply) = await handler(request, stopping);
        var bytes = Encoding.UTF8.GetBytes(reply);
        response.StatusCode = status;
        response.ContentType = "application/json";
        response.ContentLength64 = bytes.Length;
        await response.OutputStream.WriteAsync(bytes, stopping);
    })
    { }

    /// <param name="path">The path served, e.g. "/v1/" (a client adds what follows it).</param>
    public LoopbackHttpServer(string path, Responder responder)
    {
        _responder = responder;
        (_listener, Url) = Start(path);
        _ = AcceptAsync();
    }

    public Uri Url { get; }

    public int Hits => Volatile.Read(ref _hits);

    /// <summary>A port no one listens on: for connection-refused tests.</summary>
    public static int FreePort()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return port;
    }

    static (HttpListener, Uri) Start(string path)
    {
        // The free port may be taken between probing and binding; a few tries make that race harmless.
        for (int attempt = 1; ; attempt++)
        {
            var url = new Uri($"http://127.0.0.1:{FreePort()}{path}");
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
            var headers = context.Request.Headers;
            var lines = string.Join("\n", headers.AllKeys.Select(name => $"{name}: {headers[name]}"));
            var request = new Received(hit, context.Request.Url!.AbsolutePath, body, headers["Authorization"], lines);
            await _responder(request, context.Response, _stopping.Token);
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
