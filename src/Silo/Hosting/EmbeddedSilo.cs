using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace RlhfActors.Silo.Hosting;

/// <summary>
/// A single localhost silo inside the calling process: what <c>rlhf run</c> uses when no cluster is named. It takes
/// free ports and a fresh cluster id, so several can run side by side (parallel tests, two terminals) without
/// clashing with each other or with a standalone silo on the default ports.
/// </summary>
public sealed class EmbeddedSilo : IAsyncDisposable
{
    readonly IHost _host;

    EmbeddedSilo(IHost host) => _host = host;

    /// <summary>The co-hosted cluster client: calls go through the silo's runtime, no gateway hop.</summary>
    public IClusterClient Client => _host.Services.GetRequiredService<IClusterClient>();

    public IServiceProvider Services => _host.Services;

    /// <summary>Starts the silo; its log lines at <paramref name="minLevel"/> and above go to <paramref name="log"/>.</summary>
    public static async Task<EmbeddedSilo> StartAsync(TextWriter log, LogLevel minLevel, CancellationToken cancellationToken = default)
    {
        // No defaults: no console logger writing to stdout, no Ctrl+C hook of the host's own (the CLI owns Ctrl+C),
        // no appsettings.json picked up from whatever directory the user runs in.
        var builder = new HostApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(minLevel);
        builder.Logging.AddProvider(new TextWriterLoggerProvider(log, minLevel));
        // Start-up notes that say nothing about a run (ServerGC advice; a watchdog that measures from process start).
        builder.Logging.AddFilter("Orleans.Runtime.Silo", LogLevel.Error);
        builder.Logging.AddFilter("Orleans.Runtime.Watchdog", LogLevel.Error);
        var options = new RlhfSiloOptions
        {
            ClusterId = $"rlhf-embedded-{Guid.NewGuid():N}",
            SiloPort = FreeLoopbackPort(),
            GatewayPort = FreeLoopbackPort(),
        };
        builder.UseOrleans(silo => silo.UseRlhfSilo(options));
        var host = builder.Build();
        try
        {
            await host.StartAsync(cancellationToken);
        }
        catch
        {
            host.Dispose();
            throw;
        }
        return new EmbeddedSilo(host);
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

    static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
