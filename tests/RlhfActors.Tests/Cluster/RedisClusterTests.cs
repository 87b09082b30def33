using static RlhfActors.Tests.IO.CheckpointDigest;
using System.Runtime.InteropServices;
using System.Text.Json;
using RlhfActors.Silo.Hosting;
using RlhfActors.Tests.Cli;

namespace RlhfActors.Tests.Cluster;

/// <summary>
/// The cluster half for real: redis-server, two <c>rlhf silo --redis</c> processes (one advertising an accelerator)
/// and the <c>rlhf</c> client as separate processes, with a Redis password that must never show in any output. One
/// test, because every step builds on the one before and each silo start costs seconds.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class RedisClusterTests
{
    // Generous: on a loaded 2-core machine a cold .NET + libtorch start takes several seconds, a tiny run tens.
    static readonly TimeSpan SiloStart = TimeSpan.FromSeconds(120);
    static readonly TimeSpan Command = TimeSpan.FromSeconds(120);
    static readonly TimeSpan Run = TimeSpan.FromSeconds(300);

    const string Password = "pw-7f1c-never-printed";

    [Fact]
    public async Task Grpo_runs_across_two_silo_processes_like_the_embedded_run_and_survives_a_silo_restart()
    {
        await using var redis = await RedisServer.StartAsync(Password);
        using var folder = new TempFolder();
        var client = new Dictionary<string, string> { ["Rlhf__Redis__Password"] = Password };

        await using var control = SiloProcess.Start(redis, accelerator: false);
        await using var accelerated = SiloProcess.Start(redis, accelerator: true);
        await Task.WhenAll(control.Process.WaitForOutputAsync("silo started", SiloStart),
            accelerated.Process.WaitForOutputAsync("silo started", SiloStart));

        // The same config, embedded (a private in-process silo) and on the cluster.
        var embedded = await CliRunner.RunAsync("run", folder.Write("embedded.yaml", ClusterYaml.Grpo("tiny-cluster", Path.Combine(folder.Path, "embedded"))), "--json");
        Assert.True(embedded.ExitCode == 0, embedded.ToString());
        var onCluster = await RlhfProcess.RunAsync(client, Run, "run",
            folder.Write("cluster.yaml", ClusterYaml.Grpo("tiny-cluster", Path.Combine(folder.Path, "cluster"))), "--json", "--cluster", redis.Url);
        Assert.True(onCluster.ExitCode == 0, $"exit {onCluster.ExitCode}\n{onCluster.Stdout}\n{onCluster.Stderr}");

        // Same final weights, bit for bit: process boundaries change where the work runs, not what it computes.
        Assert.Equal(WeightsSha256(CliRunner.LastJson(embedded.Stdout).GetProperty("checkpoint").GetString()!), WeightsSha256(CliRunner.LastJson(onCluster.Stdout).GetProperty("checkpoint").GetString()!));

        // Learner and samplers ran on the accelerator silo, the controller on the other (their own log lines).
        Assert.Contains("Learner tiny-cluster activated", accelerated.Process.Stderr);
        Assert.Contains("Sampler tiny-cluster/sampler-1 activated", accelerated.Process.Stderr);
        Assert.DoesNotContain("Learner tiny-cluster activated", control.Process.Stderr);
        Assert.Contains("Experiment tiny-cluster: grpo run of 23 steps started", control.Process.Stderr);

        // rlhf cluster: both silos, the advertised device, the controller where it is, the run and its state.
        var cluster = await RlhfProcess.RunAsync(client, Command, "cluster", "--cluster", redis.Url, "--json");
        Assert.True(cluster.ExitCode == 0, cluster.Stderr);
        using (var doc = JsonDocument.Parse(cluster.Stdout))
        {
            var silos = doc.RootElement.GetProperty("silos").EnumerateArray().Where(s => s.GetProperty("status").GetString() == "active").ToList();
            Assert.Equal(2, silos.Count);
            var gpu = Assert.Single(silos, s => s.GetProperty("device_count").GetInt32() == 1);
            Assert.Equal("cuda", gpu.GetProperty("accelerator").GetString());
            Assert.Equal(accelerated.GatewayPort, gpu.GetProperty("gateway_port").GetInt32());
            var cpu = Assert.Single(silos, s => s.GetProperty("device_count").GetInt32() == 0);
            Assert.Equal(1, cpu.GetProperty("roles").GetProperty("controller").GetInt32());
            var run = Assert.Single(doc.RootElement.GetProperty("experiments").EnumerateArray());
            Assert.Equal("tiny-cluster", run.GetProperty("experiment").GetString());
            Assert.Equal("completed", run.GetProperty("state").GetString());
        }

        // Status through either silo's gateway reports the same run.
        foreach (var silo in new[] { control, accelerated })
        {
            var status = await RlhfProcess.RunAsync(client, Command, "status", "tiny-cluster", "--json", "--cluster", $"127.0.0.1:{silo.GatewayPort}");
            Assert.True(status.ExitCode == 0, status.Stderr);
            Assert.Equal("completed", JsonDocument.Parse(status.Stdout).RootElement.GetProperty("state").GetString());
        }

        // The controller's silo leaves (SIGTERM: a clean exit) and a new silo process takes its place. The run's record
        // lives in Redis, so the new cluster still lists it, with its result, and runs the next experiment.
        control.Process.Signal(PosixSignal.SIGTERM);
        Assert.Equal(0, await control.Process.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("silo stopped", control.Process.Stderr);
        await using var replacement = SiloProcess.Start(redis, accelerator: false);
        await replacement.Process.WaitForOutputAsync("silo started", SiloStart);

        var second = await RlhfProcess.RunAsync(client, Run, "run",
            folder.Write("second.yaml", ClusterYaml.Grpo("tiny-cluster-2", Path.Combine(folder.Path, "second"))), "--json", "--cluster", redis.Url);
        Assert.True(second.ExitCode == 0, $"exit {second.ExitCode}\n{second.Stdout}\n{second.Stderr}");
        var list = await RlhfProcess.RunAsync(client, Command, "list", "--cluster", redis.Url, "--json");
        Assert.True(list.ExitCode == 0, list.Stderr);
        using (var doc = JsonDocument.Parse(list.Stdout))
        {
            var runs = doc.RootElement.GetProperty("experiments").EnumerateArray().ToDictionary(e => e.GetProperty("experiment").GetString()!);
            Assert.Equal(["tiny-cluster", "tiny-cluster-2"], runs.Keys.Order());
            var first = runs["tiny-cluster"];
            Assert.Equal("completed", first.GetProperty("state").GetString());
            var result = first.GetProperty("result");
            Assert.Equal(23, result.GetProperty("steps").GetInt32());
            Assert.Equal(CliRunner.LastJson(onCluster.Stdout).GetProperty("checkpoint").GetString(), result.GetProperty("checkpoint").GetString());
            Assert.Equal("completed", runs["tiny-cluster-2"].GetProperty("state").GetString());
        }
        var text = await RlhfProcess.RunAsync(client, Command, "cluster", "--cluster", redis.Url);
        Assert.True(text.ExitCode == 0, text.Stderr);
        Assert.Contains("tiny-cluster  grpo  completed  step 23/23", text.Stdout);

        // The password is in no output of any process: silos' logs, clients' results, status and listings.
        foreach (var output in new[]
                 {
                     control.Process.ToString(), accelerated.Process.ToString(), replacement.Process.ToString(),
                     onCluster.Stdout + onCluster.Stderr, cluster.Stdout + cluster.Stderr, second.Stdout + second.Stderr,
                     list.Stdout + list.Stderr, text.Stdout + text.Stderr,
                 })
            Assert.DoesNotContain(Password, output);

        foreach (var silo in new[] { accelerated, replacement })
        {
            silo.Process.Signal(PosixSignal.SIGTERM);
            Assert.Equal(0, await silo.Process.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        }
    }

}

[CollectionDefinition(Name)]
public sealed class RedisCollection
{
    public const string Name = "redis-server and silo processes";
}
