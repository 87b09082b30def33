using System.Diagnostics;
using System.Globalization;
using RlhfActors.Abstractions.Grains;

namespace RlhfActors.Bench;

/// <summary>A real cluster on this machine for the benches, through deploy/local/cluster.sh (the tested script), with
/// the rlhf.dll of this build beside the bench.</summary>
public static class LocalCluster
{
    /// <summary>Starts redis-server and the silos in the background; returns the redis:// endpoint.</summary>
    public static async Task<string> StartAsync(string dir, int silos, int accelerators)
    {
        var stdout = await ScriptAsync(TimeSpan.FromSeconds(240), "start", "--detach", "--silos", silos.ToString(CultureInfo.InvariantCulture),
            "--accelerators", accelerators.ToString(CultureInfo.InvariantCulture), "--dir", dir);
        return stdout.Split('\n').Single(l => l.StartsWith("CLUSTER=", StringComparison.Ordinal))["CLUSTER=".Length..].Trim();
    }

    /// <summary>Stops every process the script started (by PID) and removes its folder.</summary>
    public static async Task StopAsync(string dir)
    {
        await ScriptAsync(TimeSpan.FromSeconds(120), "stop", "--dir", dir);
        try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
    }

    /// <summary>The cluster's active silos, in a fixed order (by address).</summary>
    public static async Task<SiloAddress[]> ActiveSilosAsync(IClusterClient client) =>
        [.. (await client.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true)).Keys.OrderBy(s => s.ToParsableString(), StringComparer.Ordinal)];

    /// <summary>Makes <paramref name="call"/> with a placement hint, so the grain it activates lands on
    /// <paramref name="silo"/>.</summary>
    public static async Task<T> PinnedAsync<T>(SiloAddress silo, Func<Task<T>> call)
    {
        RequestContext.Set(Orleans.Runtime.Placement.IPlacementDirector.PlacementHintKey, silo);
        try { return await call(); }
        finally { RequestContext.Remove(Orleans.Runtime.Placement.IPlacementDirector.PlacementHintKey); }
    }

    /// <summary>SIGKILL to the silo process that hosts a learner: found by its silo port (rlhf cluster's addresses)
    /// among the processes the script recorded. Returns the killed silo's address.</summary>
    public static async Task<string> KillLearnerSiloAsync(IClusterClient client, string dir)
    {
        var silos = await client.GetGrain<IClusterInfoGrain>(0).GetSilos();
        var learner = silos.First(s => s.Roles.ContainsKey("learner"));
        // "S127.0.0.1:50250:155183713": the silo port is the middle field.
        var port = learner.Address.Split(':')[1];
        foreach (var line in File.ReadAllLines(Path.Combine(dir, "pids")).Where(l => l.StartsWith("silo-", StringComparison.Ordinal)))
        {
            var pid = int.Parse(line.Split(' ')[1], CultureInfo.InvariantCulture);
            var args = File.ReadAllText($"/proc/{pid}/cmdline").Split('\0');
            var at = Array.IndexOf(args, "--silo-port");
            if (at < 0 || at + 1 >= args.Length || args[at + 1] != port) continue;
            using var process = Process.GetProcessById(pid);
            process.Kill(); // SIGKILL on Linux
            return learner.Address;
        }
        throw new InvalidOperationException($"no silo process of {dir} listens on silo port {port}");
    }

    static async Task<string> ScriptAsync(TimeSpan timeout, params string[] args)
    {
        var info = new ProcessStartInfo("bash") { RedirectStandardOutput = true, UseShellExecute = false };
        info.ArgumentList.Add(Path.Combine(Repository(), "deploy", "local", "cluster.sh"));
        foreach (var arg in args) info.ArgumentList.Add(arg);
        // The rlhf.dll of this build (beside the bench), not a fresh build from inside a measurement.
        info.Environment["RLHF_NO_BUILD"] = "1";
        info.Environment["RLHF_DLL"] = Path.Combine(AppContext.BaseDirectory, "rlhf.dll");
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        await process.WaitForExitAsync(cts.Token);
        if (process.ExitCode != 0) throw new InvalidOperationException($"cluster.sh {string.Join(' ', args)} exited with {process.ExitCode}");
        return await output;
    }

    static string Repository()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "RlhfActors.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("run the bench from the repository's build (RlhfActors.sln above it)");
    }
}
