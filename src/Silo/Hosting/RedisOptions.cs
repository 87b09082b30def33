using System.Globalization;
using StackExchange.Redis;

namespace RlhfActors.Silo.Hosting;

/// <summary>
/// The Redis a cluster keeps its membership, grain state and reminders in (configuration section "Rlhf:Redis",
/// e.g. the environment variables <c>Rlhf__Redis__Endpoint</c>, <c>Rlhf__Redis__Password</c>). The endpoint may also
/// come from the command line (<c>rlhf silo --redis host:port</c>, <c>--cluster redis://host:port</c>); the password
/// and the user never do: a command line lands in shell history and in every process listing.
/// </summary>
public sealed class RedisOptions
{
    public const string Section = "Rlhf:Redis";

    /// <summary><c>host:port</c>; null or empty: no Redis (the localhost development cluster).</summary>
    public string? Endpoint { get; set; }

    /// <summary>Redis 6 ACL user; null for the default user.</summary>
    public string? User { get; set; }

    /// <summary>Redis AUTH password. Never logged, printed or put in a status: <see cref="Describe"/> leaves it out.</summary>
    public string? Password { get; set; }

    /// <summary>Connect with TLS (as <c>rediss://</c> in a client's <c>--cluster</c>).</summary>
    public bool Tls { get; set; }

    /// <summary>Seconds to wait for Redis to answer at start-up before giving up with an error naming the endpoint.</summary>
    public int ConnectTimeoutSeconds { get; set; } = 5;

    public bool IsSet => !string.IsNullOrWhiteSpace(Endpoint);

    /// <summary>The endpoint as a user may see it: scheme, host and port, never the credentials.</summary>
    public string Describe() => $"{(Tls ? "rediss" : "redis")}://{Endpoint}";

    /// <summary>Throws naming the setting that is wrong; the message never holds the password.</summary>
    public void Validate()
    {
        if (!IsSet) return;
        if (!TryParseEndpoint(Endpoint!, out _, out _, out var error))
            throw new ArgumentException($"{Section}:{nameof(Endpoint)}: {error}");
        if (ConnectTimeoutSeconds is < 1 or > 300)
            throw new ArgumentException($"{Section}:{nameof(ConnectTimeoutSeconds)} must be between 1 and 300 (got {ConnectTimeoutSeconds})");
    }

    /// <summary>StackExchange.Redis settings for Orleans' Redis providers. Built field by field rather than from a
    /// connection string, so no string holding the password exists to be logged by accident.</summary>
    public ConfigurationOptions ToConfigurationOptions()
    {
        Validate();
        if (!IsSet) throw new InvalidOperationException("no Redis endpoint is configured");
        TryParseEndpoint(Endpoint!, out var host, out var port, out _);
        var options = new ConfigurationOptions
        {
            User = string.IsNullOrEmpty(User) ? null : User,
            Password = string.IsNullOrEmpty(Password) ? null : Password,
            Ssl = Tls,
            ConnectTimeout = ConnectTimeoutSeconds * 1000,
            // Providers connect at silo start; after that a Redis outage must not kill the silo, only delay writes.
            AbortOnConnectFail = false,
            ClientName = "rlhf",
        };
        options.EndPoints.Add(host, port);
        return options;
    }

    /// <summary>Parses <c>host:port</c> (IPv6 in brackets: <c>[::1]:6379</c>).</summary>
    public static bool TryParseEndpoint(string text, out string host, out int port, out string error)
    {
        host = "";
        port = 0;
        error = "";
        if (text.Contains('@') || text.Contains(','))
        {
            // A StackExchange connection string or a URL with credentials: refuse without echoing it.
            error = "must be host:port only; set the password with Rlhf__Redis__Password, not in the endpoint";
            return false;
        }
        var colon = text.LastIndexOf(':');
        if (colon <= 0 || colon == text.Length - 1)
        {
            error = $"'{text}' is not host:port (e.g. 127.0.0.1:6379)";
            return false;
        }
        host = text[..colon].Trim('[', ']');
        if (!int.TryParse(text[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535)
        {
            error = $"'{text}': the port must be a number 1-65535";
            return false;
        }
        return true;
    }
}
