using System.Diagnostics;

namespace RlhfActors.Tests.Cluster;

/// <summary>What every test that starts a process needs: its end (by its own PID, nothing else) and where the
/// repository is.</summary>
public static class ChildProcess
{
    /// <summary>Kills the process if it still runs and waits up to 10 s for it to go.</summary>
    public static async Task EndAsync(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill();
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await process.WaitForExitAsync(timeout.Token);
            }
        }
        catch (Exception e) when (e is InvalidOperationException or OperationCanceledException)
        {
            // Already gone, or never started.
        }
        process.Dispose();
    }

    /// <summary>The repository root: the folder above the test output that holds RlhfActors.sln.</summary>
    public static string Repository
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "RlhfActors.sln"))) dir = dir.Parent;
            return dir?.FullName ?? throw new InvalidOperationException("the repository root (RlhfActors.sln) is not above the test output");
        }
    }
}
