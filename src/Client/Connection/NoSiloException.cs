namespace RlhfActors.Client.Connection;

/// <summary>No silo answered at the endpoint a command was pointed at.</summary>
public sealed class NoSiloException(ClusterEndpoint endpoint, Exception cause)
    : Exception($"no silo at {endpoint}: start one with `dotnet run --project src/Silo` or `rlhf silo`", cause)
{
    public ClusterEndpoint Endpoint { get; } = endpoint;
}
