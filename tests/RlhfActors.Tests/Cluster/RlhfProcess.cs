using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace RlhfActors.Tests.Cluster;

/// <summary>
/// The real <c>rlhf</c> program (the build's rlhf.dll beside the tests) as a child process: a silo that runs until it
/// is signalled, or a client command that runs to its exit. Output is captured whole; signals go to this process's
/// PID only.
/// </summary>
public sealed class RlhfProcess : IAsyncDisposable
{
    readonly Process _process;
    readonly StringBuilder _stdout = new();
    readonly StringBuilder _stderr = new();
    readonly Lock _gate = new();

    RlhfProcess(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_gate) _stdout.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_gate) _stderr.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public static string Dll => Path.Combine(AppContext.BaseDirectory, "rlhf.dll");

    public int Pid => _process.Id;
    public string Stdout { get { lock (_gate) return _stdout.ToString(); } }
    public string Stderr { get { lock (_gate) return _stderr.ToString(); } }
    public bool HasExited => _process.HasExited;

    public static RlhfProcess Start(IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        info.ArgumentList.Add(Dll);
        foreach (var arg in args) info.ArgumentList.Add(arg);
        // The child sees no Rlhf__ settings of whoever runs the tests, only the ones the test names.
        foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("Rlhf__", StringComparison.OrdinalIgnoreCase)).ToList())
            info.Environment.Remove(key);
        foreach (var (key, value) in environment ?? new Dictionary<string, string>()) info.Environment[key] = value;
        return new RlhfProcess(Process.Start(info) ?? throw new InvalidOperationException("dotnet did not start"));
    }

    /// <summary>Runs a client command to its end (at most <paramref name="timeout"/>).</summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(IReadOnlyDictionary<string, string>? environment,
        TimeSpan timeout, params string[] args)
    {
        await using var process = Start(environment, args);
        var code = await process.WaitForExitAsync(timeout);
        return (code, process.Stdout, process.Stderr);
    }

    /// <summary>Waits until stdout holds <paramref name="text"/>; throws with the output when the process exits first or
    /// time runs out.</summary>
    public async Task WaitForOutputAsync(string text, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (!Stdout.Contains(text, StringComparison.Ordinal))
        {
            if (_process.HasExited)
                throw new InvalidOperationException($"rlhf (pid {Pid}) exited with {_process.ExitCode} before printing '{text}'\n{this}");
            if (clock.Elapsed > timeout)
                throw new TimeoutException($"rlhf (pid {Pid}) did not print '{text}' within {timeout.TotalSeconds} s\n{this}");
            await Task.Delay(100);
        }
    }

    /// <summary>Sends a real signal (SIGTERM, SIGKILL) to this process.</summary>
    public void Signal(PosixSignal signal)
    {
        var number = signal switch
        {
            PosixSignal.SIGTERM => 15,
            PosixSignal.SIGINT => 2,
            _ => throw new ArgumentOutOfRangeException(nameof(signal), signal, "SIGTERM or SIGINT; SIGKILL is Kill()"),
        };
        Send(_process.Id, number);
    }

    /// <summary>kill(2): signal <paramref name="number"/> to the process <paramref name="pid"/> (one this test started).</summary>
    internal static void Send(int pid, int number)
    {
        if (kill(pid, number) != 0) throw new InvalidOperationException($"kill({pid}, {number}) failed: errno {Marshal.GetLastPInvokeError()}");
    }

    /// <summary>SIGKILL: the process dies at once, with no chance to leave the cluster or save anything.</summary>
    public void Kill9()
    {
        Send(_process.Id, 9);
    }

    /// <summary>Exit code; throws with the output when the process has not exited within <paramref name="timeout"/>.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"rlhf (pid {Pid}) did not exit within {timeout.TotalSeconds} s\n{this}");
        }
        // The asynchronous readers may still be draining the pipes.
        _process.WaitForExit();
        return _process.ExitCode;
    }

    public override string ToString() => $"--- stdout ---\n{Stdout}\n--- stderr ---\n{Stderr}";

    public ValueTask DisposeAsync() => new(ChildProcess.EndAsync(_process));

    [DllImport("libc", SetLastError = true)]
    static extern int kill(int pid, int signal);
}
