using RlhfActors.Silo.Hosting;

namespace RlhfActors.Tests.Cluster;

/// <summary>An <c>rlhf silo --redis</c> process of a test cluster, on free loopback ports; disposing it ends it by its
/// PID (if it still runs).</summary>
public sealed record SiloProcess(RlhfProcess Process, int GatewayPort) : IAsyncDisposable
{
    /// <param name="accelerator">Advertise one CUDA device (computing on the CPU), so learners and samplers are placed
    /// here; otherwise no accelerator, so the controller and the policy registry are.</param>
    public static SiloProcess Start(RedisServer redis, bool accelerator)
    {
        var environment = new Dictionary<string, string>
        {
            ["Rlhf__Redis__Password"] = redis.Password ?? "",
            ["Rlhf__Hardware__Accelerator"] = accelerator ? "cuda" : "none",
        };
        if (accelerator)
        {
            environment["Rlhf__Hardware__DeviceCount"] = "1";
            environment["Rlhf__Hardware__ComputeOnCpu"] = "true";
        }
        var gateway = EmbeddedSilo.FreeLoopbackPort();
        var process = RlhfProcess.Start(environment, "silo", "--redis", redis.Endpoint,
            "--silo-port", EmbeddedSilo.FreeLoopbackPort().ToString(), "--gateway-port", gateway.ToString(),
            "--advertised-address", "127.0.0.1");
        return new SiloProcess(process, gateway);
    }

    public ValueTask DisposeAsync() => Process.DisposeAsync();
}
