using System.Net;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace RlhfActors.Silo.Hosting;

/// <summary>Logs the dashboard's URL once the host is up, so the line appears only when Kestrel really listens.</summary>
public sealed partial class DashboardStartedLogger(IHostApplicationLifetime lifetime, IPEndPoint endpoint,
    ILogger<DashboardStartedLogger> logger) : IHostedService
{
    /// <summary>The dashboard's page; IPEndPoint writes an IPv6 address in brackets, as a URL needs it.</summary>
    public static string Url(IPEndPoint endpoint) => $"http://{endpoint}/";

    public Task StartAsync(CancellationToken cancellationToken)
    {
        lifetime.ApplicationStarted.Register(() => LogDashboard(Url(endpoint)));
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Information, Message = "Orleans Dashboard at {Url} (its data: /DashboardCounters, /ClusterStats)")]
    private partial void LogDashboard(string url);
}
