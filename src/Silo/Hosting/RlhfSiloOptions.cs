using System.Net;

namespace RlhfActors.Silo.Hosting;

/// <summary>Where a silo listens and which cluster it joins (configuration section "Rlhf": <c>--Rlhf:SiloPort=11112</c>
/// for src/Silo, the environment variable <c>Rlhf__SiloPort</c>, or <c>rlhf silo --silo-port</c>). Messaging limits
/// are not here: they are fixed for the whole system in <c>RlhfLimits</c>, because silos and clients must agree on
/// them. Where the cluster's state lives is <see cref="RedisOptions"/>.</summary>
public sealed class RlhfSiloOptions
{
    public const string Section = "Rlhf";

    /// <summary>One deployment of the cluster; silos and clients of one cluster must agree on it.</summary>
    public string ClusterId { get; set; } = "rlhf-dev";

    /// <summary>The service across deployments: grain state and reminders are keyed by it, so a new ClusterId with
    /// the same ServiceId still finds every experiment.</summary>
    public string ServiceId { get; set; } = "rlhf";

    public int SiloPort { get; set; } = 11111;
    public int GatewayPort { get; set; } = 30000;

    /// <summary>
    /// The address other silos and clients reach this silo at (an IP or a host name resolved at start-up). Needed in
    /// containers, where the address a process sees is not the one the network routes to it. Null: Orleans picks the
    /// machine's first non-loopback IPv4 address. A loopback address (127.0.0.1) keeps the silo on loopback only: the
    /// local cluster of deploy/local and of the tests.
    /// </summary>
    public string? AdvertisedAddress { get; set; }

    /// <summary>Run under Microsoft.Orleans.Hosting.Kubernetes: pod IP and name from the downward API
    /// (POD_IP, POD_NAME, POD_NAMESPACE), and pods of silos declared dead are deleted (deploy/k8s).</summary>
    public bool Kubernetes { get; set; }

    /// <summary>The port the Orleans Dashboard is served on (HTTP, <c>rlhf silo --dashboard-port</c>); null: no
    /// dashboard and no web server at all.</summary>
    public int? DashboardPort { get; set; }

    /// <summary>The address the dashboard listens on. Loopback by default: the dashboard has no authentication and
    /// shows every grain type and silo, so reaching it from elsewhere is a choice (0.0.0.0 for every interface, in a
    /// container behind a port mapping).</summary>
    public string DashboardAddress { get; set; } = "127.0.0.1";

    /// <summary>Throws naming the setting that is wrong.</summary>
    public void Validate()
    {
        static void Port(int value, string name)
        {
            if (value is < 1 or > 65535) throw new ArgumentException($"{Section}:{name} must be a TCP port 1-65535 (got {value})");
        }
        if (string.IsNullOrWhiteSpace(ClusterId)) throw new ArgumentException($"{Section}:{nameof(ClusterId)} is empty");
        if (string.IsNullOrWhiteSpace(ServiceId)) throw new ArgumentException($"{Section}:{nameof(ServiceId)} is empty");
        Port(SiloPort, nameof(SiloPort));
        Port(GatewayPort, nameof(GatewayPort));
        if (SiloPort == GatewayPort) throw new ArgumentException($"{Section}:{nameof(SiloPort)} and {nameof(GatewayPort)} must differ (both {SiloPort})");
        if (AdvertisedAddress is { } address && (string.IsNullOrWhiteSpace(address) || address.Contains(' ') || address.Contains(':') && !IPAddress.TryParse(address, out _)))
            throw new ArgumentException($"{Section}:{nameof(AdvertisedAddress)} '{address}' is not an IP address or host name");
        if (DashboardPort is { } dashboard)
        {
            Port(dashboard, nameof(DashboardPort));
            if (dashboard == SiloPort || dashboard == GatewayPort)
                throw new ArgumentException($"{Section}:{nameof(DashboardPort)} must differ from {nameof(SiloPort)} and {nameof(GatewayPort)} (got {dashboard})");
        }
        // An IP literal only: Kestrel listens on exactly this address, and a host name may resolve to several.
        if (!IPAddress.TryParse(DashboardAddress, out _))
            throw new ArgumentException($"{Section}:{nameof(DashboardAddress)} '{DashboardAddress}' is not an IP address " +
                                        "(127.0.0.1: this machine only; 0.0.0.0: every interface)");
    }

    /// <summary>Where the dashboard listens; null when it is off. Call after <see cref="Validate"/>. (A method, not a
    /// property: the configuration binder reads properties.)</summary>
    public IPEndPoint? DashboardEndpoint() =>
        DashboardPort is { } port ? new IPEndPoint(IPAddress.Parse(DashboardAddress), port) : null;

    /// <summary>The advertised address as an IP, resolving a host name; null when unset.</summary>
    public IPAddress? ResolveAdvertisedAddress()
    {
        if (string.IsNullOrWhiteSpace(AdvertisedAddress)) return null;
        if (IPAddress.TryParse(AdvertisedAddress, out var ip)) return ip;
        try
        {
            var addresses = Dns.GetHostAddresses(AdvertisedAddress);
            return addresses.FirstOrDefault(a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork)
                   ?? addresses.FirstOrDefault()
                   ?? throw new ArgumentException($"{Section}:{nameof(AdvertisedAddress)} '{AdvertisedAddress}' resolves to no address");
        }
        catch (System.Net.Sockets.SocketException e)
        {
            throw new ArgumentException($"{Section}:{nameof(AdvertisedAddress)} '{AdvertisedAddress}' does not resolve: {e.Message}");
        }
    }
}
