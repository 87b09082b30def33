using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using RlhfActors.Silo.Hosting;

namespace RlhfActors.Client.Connection;

/// <summary>
/// An Orleans external client connected to a running silo's gateway (a standalone silo, <c>rlhf silo</c>): what the
/// control commands and <c>run --detach</c> talk through. It joins with the standalone silo's default cluster id and
/// service id (<see cref="RlhfSiloOptions"/>), and the system's messaging limits.
/// </summary>
public sealed class ClusterConnection : IAsyncDisposable
{
    static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(20);

    readonly IHost _host;

    ClusterConnection(IHost host, ClusterEndpoint endpoint)
    {
        _host = host;
        Endpoint = endpoint;
    }

    public ClusterEndpoint Endpoint { get; }

    public IClusterClient Client => _host.Services.GetRequiredService<IClusterClient>();

    /// <summary>Connects; throws <see cref="NoSiloException"/> when no silo of the cluster answers there.</summary>
    public static async Task<ClusterConnection> ConnectAsync(ClusterEndpoint endpoint, CancellationToken cancellationToken = default)
    {
        var silo = new RlhfSiloOptions();
        // No defaults (no appsettings.json from the working directory, no Ctrl+C hook: the CLI owns Ctrl+C) and no
        // log providers: a failed connection is reported once, as NoSiloException, not as the client's retry log.
        var builder = new HostApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        builder.UseOrleansClient(client =>
        {
            if (endpoint.IsLoopback)
            {
                client.UseLocalhostClustering(endpoint.Port, silo.ServiceId, silo.ClusterId);
            }
            else
            {
                client.UseStaticClustering(Resolve(endpoint));
                client.Configure<ClusterOptions>(o =>
                {
                    o.ClusterId = silo.ClusterId;
                    o.ServiceId = silo.ServiceId;
                });
            }
            // Fail at the first refusal: by default the client keeps retrying for minutes before it gives up.
            client.UseConnectionRetryFilter((_, _) => Task.FromResult(false));
            client.AddRlhfClientLimits();
        });
        var host = builder.Build();
        // Something that accepts connections but never completes Orleans' handshake must not hang the command.
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(ConnectTimeout);
        try
        {
            await host.StartAsync(timeout.Token);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            host.Dispose();
            throw new NoSiloException(endpoint, e);
        }
        catch
        {
            host.Dispose();
            throw;
        }
        return new ClusterConnection(host, endpoint);
    }

    static IPEndPoint[] Resolve(ClusterEndpoint endpoint)
    {
        try
        {
            return [.. Dns.GetHostAddresses(endpoint.Host).Select(a => new IPEndPoint(a, endpoint.Port))];
        }
        catch (SocketException e)
        {
            throw new NoSiloException(endpoint, e);
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _host.StopAsync(timeout.Token);
        }
        finally
        {
            _host.Dispose();
        }
    }
}
