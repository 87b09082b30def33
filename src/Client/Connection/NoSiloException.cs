namespace RlhfActors.Client.Connection;

/// <summary>No silo answered at the endpoint a command was pointed at (for a redis:// endpoint: Redis did not answer,
/// or no live silo is registered in it).</summary>
public sealed class NoSiloException : Exception
{
    public NoSiloException(ClusterEndpoint endpoint, Exception cause)
        : this(endpoint, $"no silo at {endpoint}: start one with `dotnet run --project src/Silo` or `rlhf silo`", cause)
    {
    }

    public NoSiloException(ClusterEndpoint endpoint, string message, Exception cause) : base(message, cause) => Endpoint = endpoint;

    public ClusterEndpoint Endpoint { get; }
}

/// <summary>A client setting from the environment (<c>Rlhf__…</c>) is wrong; the message names it.</summary>
public sealed class ClientSettingsException(string message) : Exception(message);
