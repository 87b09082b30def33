using RlhfActors.Silo.Hosting;

namespace RlhfActors.Tests.Cluster;

/// <summary>An <c>rlhf silo --redis</c> process of a test cluster, on free loopback ports; disposing it ends it by its
/// PID (if it still runs).</summary>
public sealed record SiloProcess(RlhfProcess Process, int GatewayPort, int SiloPort) : IAsyncDisposable
{
    /// <param name="accelerator">Advertise one CUDA device (computing on the CPU), so learners and samplers are placed
    /// here; otherwise no accelerator, so the controller and the policy registry are.</param>
    public static SiloProcess Start(RedisServer redis, bool accelerator)
    {
        var environment = new Dictionary<string, string>
        {
            ["Rlhf__Redis__Password"] = redis.Password ?? "",
            ["Rlhf__Hardware__Accelerator"] = accelerator ? "cuda" : "none",
            // As deploy/local/cluster.sh: fewer GCs, fewer chances for TorchSharp's Scalar finalizer race.
            ["DOTNET_GCgen0size"] = "0x8000000",
        };
        if (accelerator)
        {
            environment["Rlhf__Hardware__DeviceCount"] = "1";
            environment["Rlhf__Hardware__ComputeOnCpu"] = "true";
        }
        var (gateway, siloPort) = (EmbeddedSilo.FreeLoopbackPort(), EmbeddedSilo.FreeLoopbackPort());
        var process = RlhfProcess.Start(environment, "silo", "--redis", redis.Endpoint,
            "--silo-port", siloPort.ToString(), "--gateway-port", gateway.ToString(),
            "--advertised-address", "127.0.0.1");
        return new SiloProcess(process, gateway, siloPort);
    }

    public ValueTask DisposeAsync() => Process.DisposeAsync();
}
