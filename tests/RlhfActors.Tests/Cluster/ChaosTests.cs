using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using RlhfActors.Silo.Hosting;
using RlhfActors.Tests.Cli;

namespace RlhfActors.Tests.Cluster;

/// <summary>
/// Chaos with real processes: redis-server and three <c>rlhf silo</c> processes (one control plane, two advertising an
/// accelerator). An SFT run is going; the silo hosting its learner gets SIGKILL. Nobody issues a command: the run
/// notices the loss once membership declares the silo dead, rebuilds its learner on the other accelerator silo from
/// the newest checkpoint, and completes with exactly the steps asked for and the final weights of an uninterrupted
/// run.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class ChaosTests
{
    const int Steps = 2000;
    static readonly TimeSpan SiloStart = TimeSpan.FromSeconds(120);
    // Detection (~30 s: ClusterMembershipSettings) + recovery + the rest of the run, on a loaded 2-core machine.
    static readonly TimeSpan Completion = TimeSpan.FromSeconds(300);

    static string Yaml(string name, string outputDir)
    {
        var text = TinyYaml.Text(outputDir);
        text = TinyYaml.With(text, "name: tiny-cli", $"name: {name}");
        text = TinyYaml.With(text, "  steps: 30", $"  steps: {Steps}");
        text = TinyYaml.With(text, "  every: 15", "  every: 500");   // eval
        return TinyYaml.With(text, "  every: 0", "  every: 100");    // checkpoint
    }

    [Fact]
    public async Task An_sft_run_survives_kill_9_of_its_learners_silo_and_ends_bit_identical()
    {
        await using var redis = await RedisServer.StartAsync();
        using var folder = new TempFolder();
        var silos = new List<(RlhfProcess Process, int Gateway)>();
        try
        {
            foreach (var accelerator in new[] { false, true, true }) silos.Add(StartSilo(redis, accelerator));
            await Task.WhenAll(silos.Select(s => s.Process.WaitForOutputAsync("silo started", SiloStart)));

            var embedded = await CliRunner.RunAsync("run", folder.Write("embedded.yaml", Yaml("chaos-sft", Path.Combine(folder.Path, "embedded"))), "--json");
            Assert.True(embedded.ExitCode == 0, embedded.ToString());

            var submitted = await CliRunner.RunAsync("run", folder.Write("cluster.yaml", Yaml("chaos-sft", Path.Combine(folder.Path, "cluster"))),
                "--detach", "--cluster", redis.Url);
            Assert.True(submitted.ExitCode == 0, submitted.ToString());

            // Where the learner runs, once it does; then past a checkpoint, still mid-way: kill that silo.
            await WaitForStatusAsync(redis, s => s.GetProperty("step").GetInt32() >= 1, TimeSpan.FromSeconds(120));
            var learnerGateway = await LearnerGatewayAsync(redis);
            var victim = silos.Single(s => s.Gateway == learnerGateway);
            var before = await WaitForStatusAsync(redis, s => s.GetProperty("step").GetInt32() >= 200, TimeSpan.FromSeconds(120));
            Assert.True(before.GetProperty("step").GetInt32() < Steps - 300, $"the run was at step {before.GetProperty("step")} before the kill could land mid-way");
            victim.Process.Kill9();
            var clock = Stopwatch.StartNew();

            var done = await WaitForStatusAsync(redis, s => s.GetProperty("state").GetString() is "completed" or "failed" or "stopped", Completion);
            Assert.True(done.GetProperty("state").GetString() == "completed", done.ToString());
            Assert.Equal(Steps, done.GetProperty("step").GetInt32());
            Assert.Equal(1, done.GetProperty("resumes").GetInt32());
            Assert.Equal(0, done.GetProperty("resumed_from_step").GetInt32() % 100);
            Assert.Equal(WeightsSha256(LastJson(embedded.Stdout).GetProperty("checkpoint").GetString()!),
                WeightsSha256(done.GetProperty("checkpoint").GetString()!));

            // The survivors logged the recovery; the run moved to the other accelerator silo.
            var survivors = string.Concat(silos.Where(s => s != victim).Select(s => s.Process.Stderr));
            Assert.Contains("Experiment chaos-sft: resumed at step", survivors);
            Assert.Contains("Learner chaos-sft activated", silos.Single(s => s != victim && s != silos[0]).Process.Stderr);
            Console.WriteLine($"chaos: killed at step ≥ 200, completed {clock.Elapsed.TotalSeconds:F0} s after the kill");
        }
        finally
        {
            foreach (var (process, _) in silos) await process.DisposeAsync();
        }
    }

    static (RlhfProcess, int) StartSilo(RedisServer redis, bool accelerator)
    {
        var environment = new Dictionary<string, string> { ["Rlhf__Hardware__Accelerator"] = accelerator ? "cuda" : "none" };
        if (accelerator)
        {
            environment["Rlhf__Hardware__DeviceCount"] = "1";
            environment["Rlhf__Hardware__ComputeOnCpu"] = "true";
        }
        var gateway = EmbeddedSilo.FreeLoopbackPort();
        return (RlhfProcess.Start(environment, "silo", "--redis", redis.Endpoint, "--silo-port", EmbeddedSilo.FreeLoopbackPort().ToString(),
            "--gateway-port", gateway.ToString(), "--advertised-address", "127.0.0.1"), gateway);
    }

    /// <summary>Polls <c>rlhf status --json</c> (in-process client, through Redis) until <paramref name="until"/> holds.</summary>
    static async Task<JsonElement> WaitForStatusAsync(RedisServer redis, Func<JsonElement, bool> until, TimeSpan limit)
    {
        var clock = Stopwatch.StartNew();
        JsonElement last = default;
        while (clock.Elapsed < limit)
        {
            var status = await CliRunner.RunAsync("status", "chaos-sft", "--json", "--cluster", redis.Url);
            if (status.ExitCode == 0)
            {
                last = JsonDocument.Parse(status.Stdout).RootElement.Clone();
                if (until(last)) return last;
            }
            await Task.Delay(250);
        }
        throw new TimeoutException($"status did not reach the expected state within {limit.TotalSeconds} s; last: {last}");
    }

    static async Task<int> LearnerGatewayAsync(RedisServer redis)
    {
        var cluster = await CliRunner.RunAsync("cluster", "--json", "--cluster", redis.Url);
        Assert.True(cluster.ExitCode == 0, cluster.ToString());
        var silo = JsonDocument.Parse(cluster.Stdout).RootElement.GetProperty("silos").EnumerateArray()
            .Single(s => s.GetProperty("roles").TryGetProperty("learner", out var n) && n.GetInt32() > 0);
        Assert.Equal("cuda", silo.GetProperty("accelerator").GetString());
        return silo.GetProperty("gateway_port").GetInt32();
    }

    static JsonElement LastJson(string stdout) =>
        JsonDocument.Parse(stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1]).RootElement;

    static string WeightsSha256(string checkpoint) =>
        Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(checkpoint, "model.safetensors"))));
}
