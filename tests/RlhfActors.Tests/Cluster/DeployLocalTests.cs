using System.Diagnostics;
using System.Text.Json;
using RlhfActors.Tests.Cli;

namespace RlhfActors.Tests.Cluster;

/// <summary>deploy/local/cluster.sh as the README uses it: start a 2-silo Redis cluster in the background, see it
/// with <c>rlhf cluster</c>, stop it, and find none of its processes left.</summary>
[Collection(RedisCollection.Name)]
public sealed class DeployLocalTests
{
    static string Repository => ChildProcess.Repository;

    static async Task<(int Code, string Stdout, string Stderr)> Script(TimeSpan timeout, params string[] args)
    {
        var info = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(Path.Combine(Repository, "deploy", "local", "cluster.sh"));
        foreach (var arg in args) info.ArgumentList.Add(arg);
        // The build the tests run on; no second build from inside a test.
        info.Environment["RLHF_NO_BUILD"] = "1";
        info.Environment["RLHF_DLL"] = RlhfProcess.Dll;
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: false);
            throw new TimeoutException($"cluster.sh {string.Join(' ', args)} ran over {timeout.TotalSeconds} s\n{await stderr}");
        }
        return (process.ExitCode, await stdout, await stderr);
    }

    [Fact]
    public async Task The_local_cluster_starts_two_silos_on_redis_and_stops_every_process_it_started()
    {
        using var folder = new TempFolder();
        var dir = Path.Combine(folder.Path, "cluster");
        List<int> pids = [];
        try
        {
            var start = await Script(TimeSpan.FromSeconds(240), "start", "--detach", "--silos", "2", "--dir", dir);
            Assert.True(start.Code == 0, $"exit {start.Code}\n{start.Stdout}\n{start.Stderr}");
            pids = [.. File.ReadAllLines(Path.Combine(dir, "pids")).Select(l => int.Parse(l.Split(' ')[1]))];
            Assert.Equal(3, pids.Count); // redis and two silos
            var url = start.Stdout.Split('\n').Single(l => l.StartsWith("CLUSTER=", StringComparison.Ordinal))["CLUSTER=".Length..].Trim();
            Assert.StartsWith("redis://127.0.0.1:", url);

            var cluster = await RlhfProcess.RunAsync(null, TimeSpan.FromSeconds(120), "cluster", "--cluster", url, "--json");
            Assert.True(cluster.ExitCode == 0, cluster.Stderr);
            var silos = JsonDocument.Parse(cluster.Stdout).RootElement.GetProperty("silos").EnumerateArray()
                .Where(s => s.GetProperty("status").GetString() == "active").ToList();
            Assert.Equal(2, silos.Count);
            Assert.Single(silos, s => s.GetProperty("accelerator").GetString() == "cuda");

            var stop = await Script(TimeSpan.FromSeconds(90), "stop", "--dir", dir);
            Assert.True(stop.Code == 0, $"exit {stop.Code}\n{stop.Stdout}\n{stop.Stderr}");
            Assert.Contains("stopped: 3 process(es)", stop.Stdout);
            Assert.All(pids, pid => Assert.False(IsAlive(pid), $"pid {pid} still runs after stop"));
            Assert.False(File.Exists(Path.Combine(dir, "pids")));
        }
        finally
        {
            // A failed assertion (or a start that ran over its time) must not leave the processes behind: end the ones
            // the script recorded, by PID.
            var recorded = Path.Combine(dir, "pids");
            if (pids.Count == 0 && File.Exists(recorded))
                pids = [.. File.ReadAllLines(recorded).Select(l => int.Parse(l.Split(' ')[1]))];
            foreach (var pid in pids.Where(IsAlive))
            {
                try { Process.GetProcessById(pid).Kill(); }
                catch (Exception e) when (e is ArgumentException or InvalidOperationException) { }
            }
        }
    }

    static bool IsAlive(int pid)
    {
        try
        {
            using var p = Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}
