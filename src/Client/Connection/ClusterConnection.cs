using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using RlhfActors.Silo.Hosting;

namespace RlhfActors.Client.Connection;

/// <summary>
/// An Orleans external client connected to a running cluster: one silo's gateway (a standalone silo, <c>rlhf silo</c>)
/// or, through Redis, the gateways of every live silo of a Redis cluster. What the control commands, <c>run
/// --cluster</c>, <c>cluster</c> and <c>list</c> talk through. Cluster and service id come from the environment
/// (<c>Rlhf__ClusterId</c>, <c>Rlhf__ServiceId</c>; the standalone silo's by default), with the system's messaging
/// limits.
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

    /// <summary>Connects; throws <see cref="NoSiloException"/> when no silo of the cluster answers there (for a
    /// redis:// endpoint: Redis does not answer, or no live silo is registered in it), and
    /// <see cref="ClientSettingsException"/> for a bad <c>Rlhf__</c> environment variable.</summary>
    public static async Task<ClusterConnection> ConnectAsync(ClusterEndpoint endpoint, CancellationToken cancellationToken = default)
    {
        // Cluster and service id, and Redis credentials, from the environment as a silo reads them (Rlhf__ClusterId,
        // Rlhf__Redis__Password, …); the defaults are the standalone silo's.
        RlhfSiloOptions silo;
        RedisOptions? redis = null;
        try
        {
            var configuration = SiloConfiguration.FromEnvironment();
            (silo, var configured) = SiloConfiguration.Read(configuration);
            if (endpoint.IsRedis) redis = endpoint.ToRedisOptions(configured);
        }
        catch (ArgumentException e)
        {
            throw new ClientSettingsException(e.Message);
        }
        if (redis is not null)
        {
            try
            {
                await RedisPreflight.CheckAsync(redis, cancellationToken);
            }
            catch (RedisUnreachableException e)
            {
                throw new NoSiloException(endpoint, e.Message, e);
            }
        }
        // No defaults (no appsettings.json from the working directory, no Ctrl+C hook: the CLI owns Ctrl+C) and no
        // log providers: a failed connection is reported once, as NoSiloException, not as the client's retry log.
        var builder = new HostApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        builder.UseOrleansClient(client =>
        {
            if (redis is not null)
            {
                // The gateways of every live silo, as the silos registered them in Redis.
                client.UseRedisClustering(o => o.ConfigurationOptions = redis.ToConfigurationOptions());
                client.Configure<ClusterOptions>(o =>
                {
                    o.ClusterId = silo.ClusterId;
                    o.ServiceId = silo.ServiceId;
                });
            }
            else if (endpoint.IsLoopback)
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
            throw redis is null
                ? new NoSiloException(endpoint, e)
                : new NoSiloException(endpoint, $"no live silo of cluster '{silo.ClusterId}' is registered in Redis at {endpoint}: " +
                                                $"start one with `rlhf silo --redis {endpoint.Host}:{endpoint.Port}` (or deploy/local/cluster.sh)", e);
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
