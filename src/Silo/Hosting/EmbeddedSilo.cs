using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace RlhfActors.Silo.Hosting;

/// <summary>
/// A single localhost silo inside the calling process: what <c>rlhf run</c> uses when no cluster is named (free
/// ports and a fresh cluster id, so several can run side by side without clashing with each other or with a
/// standalone silo on the default ports), and what <c>rlhf silo</c> runs in the foreground (the standalone silo's
/// cluster id and ports, so that clients find it as they find <c>src/Silo</c>).
/// </summary>
public sealed class EmbeddedSilo : IAsyncDisposable
{
    readonly IHost _host;

    EmbeddedSilo(IHost host, RlhfSiloOptions options)
    {
        _host = host;
        Options = options;
    }

    /// <summary>The cluster id and ports this silo runs with.</summary>
    public RlhfSiloOptions Options { get; }

    /// <summary>The co-hosted cluster client: calls go through the silo's runtime, no gateway hop.</summary>
    public IClusterClient Client => _host.Services.GetRequiredService<IClusterClient>();

    public IServiceProvider Services => _host.Services;

    /// <summary>Starts a private silo (free ports, fresh cluster id); its log lines at <paramref name="minLevel"/> and
    /// above go to <paramref name="log"/>.</summary>
    public static Task<EmbeddedSilo> StartAsync(TextWriter log, LogLevel minLevel, CancellationToken cancellationToken = default) =>
        StartAsync(new RlhfSiloOptions
        {
            ClusterId = $"rlhf-embedded-{Guid.NewGuid():N}",
            SiloPort = FreeLoopbackPort(),
            GatewayPort = FreeLoopbackPort(),
        }, log, minLevel, cancellationToken);

    /// <summary>Starts a silo with the given cluster id and ports; throws <see cref="ArgumentException"/> naming a bad
    /// setting.</summary>
    public static Task<EmbeddedSilo> StartAsync(RlhfSiloOptions options, TextWriter log, LogLevel minLevel,
        CancellationToken cancellationToken = default) =>
        StartAsync(options, redis: null, configuration: null, log, minLevel, cancellationToken);

    /// <summary>
    /// Starts a silo: with <paramref name="redis"/> set, a member of that Redis cluster (Redis is asked for a PING
    /// first: <see cref="RedisUnreachableException"/> names the endpoint when it does not answer). Throws
    /// <see cref="ArgumentException"/> naming a bad setting.
    /// </summary>
    /// <param name="configuration">Settings the grains read (sections "Rlhf:Hardware", "Rlhf:Experiments", …);
    /// null for none (the embedded default reads no environment).</param>
    public static async Task<EmbeddedSilo> StartAsync(RlhfSiloOptions options, RedisOptions? redis, IConfiguration? configuration,
        TextWriter log, LogLevel minLevel, CancellationToken cancellationToken = default)
    {
        options.Validate();
        if (redis is { IsSet: true })
        {
            redis.Validate();
            await RedisPreflight.CheckAsync(redis, cancellationToken);
        }
        // No defaults: no console logger writing to stdout, no Ctrl+C hook of the host's own (the CLI owns Ctrl+C),
        // no appsettings.json picked up from whatever directory the user runs in.
        var builder = SiloHost.CreateBuilder(options, args: null);
        if (configuration is not null) builder.Configuration.AddConfiguration(configuration);
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(minLevel);
        builder.Logging.AddProvider(new TextWriterLoggerProvider(log, minLevel));
        // Start-up notes that say nothing about a run (ServerGC advice; a watchdog that measures from process start).
        builder.Logging.AddFilter("Orleans.Runtime.Silo", LogLevel.Error);
        builder.Logging.AddFilter("Orleans.Runtime.Watchdog", LogLevel.Error);
        // At Information (rlhf silo) the experiments' own lines are the point; the runtime's and the host's start-up
        // chatter is not.
        builder.Logging.AddFilter("Orleans", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        builder.Logging.AddFilter("Polly", LogLevel.Warning);
        builder.Logging.AddFilter("StackExchange", LogLevel.Warning);
        builder.UseOrleans(silo => silo.UseRlhfSilo(options, redis));
        var host = SiloHost.Build(builder);
        try
        {
            await host.StartAsync(cancellationToken);
        }
        catch
        {
            host.Dispose();
            throw;
        }
        return new EmbeddedSilo(host, options);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await _host.StopAsync(timeout.Token);
        }
        finally
        {
            _host.Dispose();
        }
    }

    static readonly HashSet<int> HandedOut = [];

    /// <summary>A TCP port free on the loopback interface right now (tests, and the private silo), and never one this
    /// process was handed before: the kernel may give the same ephemeral port to two back-to-back requests once the
    /// first listener is closed, and a silo port equal to its gateway port (or another silo's) fails to start.</summary>
    public static int FreeLoopbackPort()
    {
        for (var attempt = 0; ; attempt++)
        {
            int port;
            using (var listener = new TcpListener(IPAddress.Loopback, 0))
            {
                listener.Start();
                port = ((IPEndPoint)listener.LocalEndpoint).Port;
            }
            lock (HandedOut)
            {
                if (HandedOut.Add(port) || attempt >= 100) return port;
            }
        }
    }
}
