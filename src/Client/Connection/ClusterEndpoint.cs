using System.Globalization;
using System.Net;

namespace RlhfActors.Client.Connection;

/// <summary>The gateway a client connects to, written <c>host:port</c> as in <c>--cluster localhost:30000</c>.</summary>
public sealed record ClusterEndpoint(string Host, int Port)
{
    /// <summary>The standalone silo's gateway with its default settings (<c>RlhfSiloOptions</c>).</summary>
    public static ClusterEndpoint Default { get; } = new("localhost", 30000);

    public bool IsLoopback => Host.Equals("localhost", StringComparison.OrdinalIgnoreCase)
                              || (IPAddress.TryParse(Host, out var address) && IPAddress.IsLoopback(address));

    public override string ToString() => $"{Host}:{Port.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>Parses <c>host:port</c>; null and a message naming what is wrong when it is not one.</summary>
    public static ClusterEndpoint? TryParse(string text, out string error)
    {
        error = "";
        var colon = text.LastIndexOf(':');
        if (colon <= 0 || colon == text.Length - 1)
        {
            error = $"'{text}' is not host:port (e.g. localhost:30000)";
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
