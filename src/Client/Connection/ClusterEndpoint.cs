using System.Globalization;
using System.Net;
using RlhfActors.Silo.Hosting;

namespace RlhfActors.Client.Connection;

/// <summary>
/// Where a client finds a cluster: one gateway, written <c>host:port</c> as in <c>--cluster localhost:30000</c>, or
/// the Redis a cluster's silos register in, written <c>redis://host:port</c> (<c>rediss://</c> for TLS), through which
/// the client finds every live silo's gateway.
/// </summary>
public sealed record ClusterEndpoint(string Host, int Port)
{
    /// <summary>The standalone silo's gateway with its default settings (<c>RlhfSiloOptions</c>).</summary>
    public static ClusterEndpoint Default { get; } = new("localhost", 30000);

    /// <summary>The endpoint is a Redis server (membership), not a gateway.</summary>
    public bool IsRedis { get; init; }

    /// <summary>Redis over TLS (<c>rediss://</c>).</summary>
    public bool Tls { get; init; }

    public bool IsLoopback => Host.Equals("localhost", StringComparison.OrdinalIgnoreCase)
                              || (IPAddress.TryParse(Host, out var address) && IPAddress.IsLoopback(address));

    string HostPort => $"{(Host.Contains(':') ? $"[{Host}]" : Host)}:{Port.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>As the user wrote it, minus credentials (a redis:// endpoint never holds any: parsing refuses them).</summary>
    public override string ToString() => IsRedis ? $"{(Tls ? "rediss" : "redis")}://{HostPort}" : HostPort;

    /// <summary>Redis settings for this endpoint; user and password come from <paramref name="configured"/> (the
    /// environment), never from the command line.</summary>
    public RedisOptions ToRedisOptions(RedisOptions configured) => new()
    {
        Endpoint = HostPort,
        User = configured.User,
        Password = configured.Password,
        Tls = Tls || configured.Tls,
        ConnectTimeoutSeconds = configured.ConnectTimeoutSeconds,
    };

    /// <summary>Parses <c>host:port</c> or <c>redis://host:port</c>; null and a message naming what is wrong when it is
    /// neither. The message never repeats credentials found in the text.</summary>
    public static ClusterEndpoint? TryParse(string text, out string error)
    {
        error = "";
        foreach (var (scheme, tls) in new[] { ("redis://", false), ("rediss://", true) })
        {
            if (!text.StartsWith(scheme, StringComparison.OrdinalIgnoreCase)) continue;
            var rest = text[scheme.Length..].TrimEnd('/');
            if (rest.Contains('@'))
            {
                error = $"{scheme}…: a password on the command line lands in shell history and process listings; " +
                        "give host:port only and set Rlhf__Redis__Password (and Rlhf__Redis__User) in the environment";
                return null;
            }
            if (!RedisOptions.TryParseEndpoint(rest, out var redisHost, out var redisPort, out var redisError))
            {
                error = redisError;
                return null;
            }
            return new ClusterEndpoint(redisHost, redisPort) { IsRedis = true, Tls = tls };
        }
        if (text.Contains("://", StringComparison.Ordinal))
        {
            error = $"'{text.Split("://")[0]}://' is not a known scheme: use host:port for a gateway or redis://host:port";
            return null;
        }
        var colon = text.LastIndexOf(':');
        if (colon <= 0 || colon == text.Length - 1)
        {
            error = $"'{text}' is not host:port (e.g. localhost:30000) or redis://host:port";
            return null;
        }
        var host = text[..colon];
        if (!int.TryParse(text[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
        {
            error = $"'{text}': the port must be a number 1-65535";
            return null;
        }
        return new ClusterEndpoint(host, port);
    }
}
