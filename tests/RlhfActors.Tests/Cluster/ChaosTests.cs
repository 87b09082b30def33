using static RlhfActors.Tests.Cli.CliRunner;
using static RlhfActors.Tests.IO.CheckpointDigest;
using System.Diagnostics;
using System.Text.Json;
using RlhfActors.Silo.Hosting;
using RlhfActors.Tests.Cli;

namespace RlhfActors.Tests.Cluster;

/// <summary>
/// Chaos with real processes: redis-server and three <c>rlhf silo</c> processes (one control plane, two advertising an
/// accelerator). An SFT run is going; the silo hosting its learner gets SIGKILL, and in a second run SIGTERM. Nobody
/// issues a command: the run notices the loss (once membership declares the silo dead, or at once for a silo that
/// leaves), rebuilds its learner on a surviving silo from the newest checkpoint, and completes with exactly the steps
/// asked for and the final weights of an uninterrupted run.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class ChaosTests
{
    const int Steps = 2000;
    static readonly TimeSpan SiloStart = TimeSpan.FromSeconds(120);
    // Detection (~30 s: ClusterMembershipSettings) + recovery + the rest of the run, on a loaded 2-core machine.
    static readonly TimeSpan Completion = TimeSpan.FromSeconds(300);

    static string Yaml(string name, string outputDir) => ClusterYaml.Sft(name, outputDir, Steps);

    [Fact]
    public async Task An_sft_run_survives_kill_9_and_sigterm_of_its_learners_silo_and_kill_9_of_its_controllers_and_ends_bit_identical()
    {
        await using var redis = await RedisServer.StartAsync();
        using var folder = new TempFolder();
        var silos = new List<SiloProcess>();
        try
        {
            foreach (var accelerator in new[] { false, true, true }) silos.Add(SiloProcess.Start(redis, accelerator));
            await Task.WhenAll(silos.Select(s => s.Process.WaitForOutputAsync("silo started", SiloStart)));

            var embedded = await CliRunner.RunAsync("run", folder.Write("embedded.yaml", Yaml("chaos-sft", Path.Combine(folder.Path, "embedded"))), "--json");
            Assert.True(embedded.ExitCode == 0, embedded.ToString());
            var expected = WeightsSha256(LastJson(embedded.Stdout).GetProperty("checkpoint").GetString()!);

            // 1. SIGKILL: the silo dies with the learner's model; the run goes on from the newest periodic checkpoint.
            var (killed, done) = await RunAndDisruptAsync(redis, folder, "killed", silos, victim => victim.Kill9());
            Assert.Equal(expected, WeightsSha256(done.GetProperty("checkpoint").GetString()!));
            Assert.Equal(0, done.GetProperty("resumed_from_step").GetInt32() % 100);
            var survivors = silos.Where(s => s != killed).ToList();
            Assert.Contains("Experiment chaos-sft: resumed at step", string.Concat(survivors.Select(s => s.Process.Stderr)));

            // 2. SIGTERM (the same experiment id started again): the learner checkpoints its step as its silo shuts
            // down, the silo leaves cleanly, and the run goes on from that very step, on whichever silo is left.
            var (stopped, again) = await RunAndDisruptAsync(redis, folder, "terminated", survivors, victim => victim.Signal(System.Runtime.InteropServices.PosixSignal.SIGTERM));
            Assert.Equal(0, await stopped.Process.WaitForExitAsync(TimeSpan.FromSeconds(60)));
            var shutdownLine = stopped.Process.Stderr.Split('\n').Single(l => l.Contains("silo shutting down; checkpoint of step", StringComparison.Ordinal));
            var shutdownStep = int.Parse(shutdownLine.Split("checkpoint of step ")[1].Split(' ')[0]);
            Assert.Equal(shutdownStep, again.GetProperty("resumed_from_step").GetInt32());
            Assert.Equal(expected, WeightsSha256(again.GetProperty("checkpoint").GetString()!));

            // No false verdicts: the silos nobody touched trained through all of it (on 2 loaded cores) and are still
            // members (a silo declared dead shuts itself down).
            foreach (var silo in silos.Where(s => s != killed && s != stopped))
                Assert.False(silo.Process.HasExited, $"an untouched silo exited:\n{silo.Process}");

            // 3. SIGKILL of the controller's silo (with the directory and the policy registry): a fresh silo joins, the
            // controller comes back on a survivor (the watchdog, the keep-alive reminder, or the next status call)
            // and the run goes on.
            var fresh = SiloProcess.Start(redis, accelerator: true);
            silos.Add(fresh);
            await fresh.Process.WaitForOutputAsync("silo started", SiloStart);
            var survivorsNow = silos.Where(s => !s.Process.HasExited).ToList();
            var (controllerSilo, third) = await RunAndDisruptAsync(redis, folder, "controller", survivorsNow, victim => victim.Kill9(), role: "controller");
            Assert.Equal(expected, WeightsSha256(third.GetProperty("checkpoint").GetString()!));
            Assert.Same(silos[0].Process, controllerSilo.Process);
        }
        finally
        {
            foreach (var silo in silos) await silo.DisposeAsync();
        }
    }

    /// <summary>Submits the run, waits until it is past its second checkpoint, disrupts the learner's silo, and waits
    /// for the run to complete by itself; the disrupted silo and the final status.</summary>
    static async Task<(SiloProcess Victim, JsonElement Done)> RunAndDisruptAsync(RedisServer redis, TempFolder folder,
        string label, IReadOnlyList<SiloProcess> silos, Action<RlhfProcess> disrupt, string role = "learner")
    {
        var submitted = await CliRunner.RunAsync("run", folder.Write($"{label}.yaml", Yaml("chaos-sft", Path.Combine(folder.Path, label))),
            "--detach", "--cluster", redis.Url);
        Assert.True(submitted.ExitCode == 0, submitted.ToString());

        // Where the learner runs, once it does; then past a checkpoint, still mid-way: disrupt that silo.
        await WaitForStatusAsync(redis, s => s.GetProperty("state").GetString() == "running" && s.GetProperty("step").GetInt32() >= 1, TimeSpan.FromSeconds(120));
        var victimGateway = await GatewayHostingAsync(redis, role);
        var victim = silos.Single(s => s.GatewayPort == victimGateway);
        var before = await WaitForStatusAsync(redis, s => s.GetProperty("step").GetInt32() >= 200, TimeSpan.FromSeconds(120));
        Assert.True(before.GetProperty("step").GetInt32() < Steps - 300, $"{label}: the run was at step {before.GetProperty("step")} before the disruption could land mid-way");
        disrupt(victim.Process);
        var clock = Stopwatch.StartNew();

        var done = await WaitForStatusAsync(redis, s => s.GetProperty("state").GetString() is "completed" or "failed" or "stopped", Completion);
        Assert.True(done.GetProperty("state").GetString() == "completed", $"{label}: {done}");
        Assert.Equal(Steps, done.GetProperty("step").GetInt32());
        Assert.Equal(1, done.GetProperty("resumes").GetInt32());
        Console.WriteLine($"chaos ({label}): completed {clock.Elapsed.TotalSeconds:F0} s after the disruption, resumed from step {done.GetProperty("resumed_from_step")}");
        return (victim, done);
    }

    static Task<JsonElement> WaitForStatusAsync(RedisServer redis, Func<JsonElement, bool> until, TimeSpan limit) =>
        ClusterStatus.WaitForAsync(redis, "chaos-sft", until, limit);

    /// <summary>The gateway port of the active silo that hosts the run's <paramref name="role"/> grain.</summary>
    static async Task<int> GatewayHostingAsync(RedisServer redis, string role)
    {
        var cluster = await CliRunner.RunAsync("cluster", "--json", "--cluster", redis.Url);
        Assert.True(cluster.ExitCode == 0, cluster.ToString());
        var silo = JsonDocument.Parse(cluster.Stdout).RootElement.GetProperty("silos").EnumerateArray()
            .Single(s => s.GetProperty("status").GetString() == "active" && s.GetProperty("roles").TryGetProperty(role, out var n) && n.GetInt32() > 0);
        return silo.GetProperty("gateway_port").GetInt32();
    }

}
