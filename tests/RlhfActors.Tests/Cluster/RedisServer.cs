using System.Diagnostics;
using System.Net.Sockets;
using RlhfActors.Silo.Hosting;

namespace RlhfActors.Tests.Cluster;

/// <summary>
/// A real redis-server (Debian's; .ci/run installs it) on a free loopback port with its own temporary directory and no
/// snapshots, started for one test class and ended by its PID. With a password it is set through the config file,
/// so it appears on no command line.
/// </summary>
public sealed class RedisServer : IAsyncDisposable
{
    readonly Process _process;
    readonly string _directory;

    RedisServer(Process process, string directory, int port, string? password)
    {
        _process = process;
        _directory = directory;
        Port = port;
        Password = password;
    }

    public int Port { get; }
    public string? Password { get; }

    /// <summary>host:port, as <c>rlhf silo --redis</c> takes it.</summary>
    public string Endpoint => $"127.0.0.1:{Port}";

    /// <summary>As <c>--cluster</c> takes it.</summary>
    public string Url => $"redis://{Endpoint}";

    public static async Task<RedisServer> StartAsync(string? password = null)
    {
        var executable = new[] { "/usr/bin/redis-server", "/usr/local/bin/redis-server" }.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("redis-server is not installed: .ci/run installs it (apt-get install redis-server)");
        var directory = Path.Combine(Path.GetTempPath(), "rlhf-tests-redis", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        var port = EmbeddedSilo.FreeLoopbackPort();
        var config = Path.Combine(directory, "redis.conf");
        var lines = new List<string> { "bind 127.0.0.1", $"port {port}", $"dir {directory}", "save \"\"", "appendonly no" };
        if (password is not null) lines.Add($"requirepass \"{password}\"");
        await File.WriteAllLinesAsync(config, lines);

        var process = Process.Start(new ProcessStartInfo(executable, [config])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        }) ?? throw new InvalidOperationException("redis-server did not start");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new RedisServer(process, directory, port, password);
        // Up to 10 s for the port to accept connections (a few ms normally).
        for (var attempt = 0; attempt < 100; attempt++)
        {
            if (process.HasExited) break;
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync("127.0.0.1", port);
                return server;
            }
            catch (SocketException)
            {
                await Task.Delay(100);
            }
        }
        await server.DisposeAsync();
        throw new InvalidOperationException($"redis-server did not accept connections on 127.0.0.1:{port} within 10 s");
    }

    public async ValueTask DisposeAsync()
    {
        await ChildProcess.EndAsync(_process);
        try { Directory.Delete(_directory, recursive: true); }
        catch (IOException) { }
    }
}
