using System.Diagnostics;
using System.Net.Sockets;
using RlhfActors.Silo.Hosting;

namespace RlhfActors.Tests.Cluster;

/// <summary>
/// A real redis-server (Debian's; .ci/run installs it) on a free loopback port with its own temporary directory and no
/// snapshots (or, to be restarted with its data, an append-only file written at every command), started for one test
/// class and ended by its PID. With a password it is set through the config file, so it appears on no command line.
/// </summary>
public sealed class RedisServer : IAsyncDisposable
{
    Process _process;
    readonly string _directory;
    readonly string _executable;

    RedisServer(Process process, string executable, string directory, int port, string? password)
    {
        _process = process;
        _executable = executable;
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

    /// <param name="keepData">Keep the data across <see cref="RestartAsync"/>: append-only file, fsync always.</param>
    public static async Task<RedisServer> StartAsync(string? password = null, bool keepData = false)
    {
        var executable = new[] { "/usr/bin/redis-server", "/usr/local/bin/redis-server" }.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("redis-server is not installed: .ci/run installs it (apt-get install redis-server)");
        var directory = Path.Combine(Path.GetTempPath(), "rlhf-tests-redis", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        var port = EmbeddedSilo.FreeLoopbackPort();
        var config = Path.Combine(directory, "redis.conf");
        var lines = new List<string> { "bind 127.0.0.1", $"port {port}", $"dir {directory}", "save \"\"" };
        lines.AddRange(keepData ? ["appendonly yes", "appendfsync always"] : ["appendonly no"]);
        if (password is not null) lines.Add($"requirepass \"{password}\"");
        await File.WriteAllLinesAsync(config, lines);

        var server = new RedisServer(Launch(executable, config), executable, directory, port, password);
        if (await server.AcceptsAsync()) return server;
        await server.DisposeAsync();
        throw new InvalidOperationException($"redis-server did not accept connections on 127.0.0.1:{port} within 10 s");
    }

    /// <summary>Stops the server with SIGTERM (it writes its data and exits), keeps it down for
    /// <paramref name="down"/>, and starts it again on the same port with the same data.</summary>
    public async Task RestartAsync(TimeSpan down)
    {
        RlhfProcess.Send(_process.Id, 15);
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30))) await _process.WaitForExitAsync(timeout.Token);
        await Task.Delay(down);
        _process = Launch(_executable, Path.Combine(_directory, "redis.conf"));
        if (!await AcceptsAsync())
            throw new InvalidOperationException($"redis-server did not accept connections again on 127.0.0.1:{Port} within 10 s");
    }

    static Process Launch(string executable, string config)
    {
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
        return process;
    }

    /// <summary>Up to 10 s for the port to accept connections (a few ms normally).</summary>
    async Task<bool> AcceptsAsync()
    {
        for (var attempt = 0; attempt < 100; attempt++)
        {
            if (_process.HasExited) return false;
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync("127.0.0.1", Port);
                return true;
            }
            catch (SocketException)
            {
                await Task.Delay(100);
            }
        }
        return false;
    }

    public async ValueTask DisposeAsync()
    {
        await ChildProcess.EndAsync(_process);
        try { Directory.Delete(_directory, recursive: true); }
        catch (IOException) { }
    }
}
