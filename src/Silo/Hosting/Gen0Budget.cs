using System.Collections;
using System.Runtime.InteropServices;

namespace RlhfActors.Silo.Hosting;

/// <summary>
/// Gives a process that trains the larger gen0 budget of docs/torchsharp-on-debian.md ("Temporary Scalars and the
/// finalizer"): TorchSharp 0.107 lets the finalizer free an implicit Scalar while libtorch still reads it, and fewer
/// gen0 collections open that window far less often. The runtime reads <c>GCgen0size</c> only from the environment
/// (measured with .NET 10: runtimeconfig's <c>System.GC.Gen0Size</c>, <c>GCgen0size</c> and server GC left a 20-million
/// allocation loop at 535 / 535 / 429 gen0 collections; the environment variable at 8), and only at start-up. So a
/// process started without it replaces itself, first thing in Main, with the same program, arguments and environment
/// plus the variable: <c>execve</c>, so the PID, stdio and signals stay those of the process the user started (a
/// child process would need its signals forwarded). A variable the user set is kept as it is.
/// </summary>
public static class Gen0Budget
{
    public const string Variable = "DOTNET_GCgen0size";
    /// <summary>128 MiB, the value the tests, deploy/local/cluster.sh and the Docker images use.</summary>
    public const string Value = "0x8000000";

    /// <summary>Returns only when the variable is set (or the platform has no execve, or it failed: then the process
    /// runs with the default budget, as before, and says so on stderr).</summary>
    public static void EnsureOrReexec()
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS()) return;
        if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable(Variable))) return;
        var host = Environment.ProcessPath;
        var args = Environment.GetCommandLineArgs();   // [the entry assembly, the user's arguments…]
        if (host is null || args.Length == 0) return;
        // `dotnet rlhf.dll …` runs the muxer, which needs the assembly again; an apphost (`rlhf …`, `dotnet run`) does not.
        bool muxer = Path.GetFileNameWithoutExtension(host) == "dotnet";
        string?[] argv = [host, .. muxer ? args : args[1..], null];
        // An empty value counts as unset and is replaced: getenv reads the first of two entries, so it must go.
        var environment = Environment.GetEnvironmentVariables().Cast<DictionaryEntry>()
            .Where(e => (string)e.Key != Variable)
            .Select(e => $"{e.Key}={e.Value}").Append($"{Variable}={Value}");
        string?[] envp = [.. environment, null];
        Execve(host, argv, envp);
        Console.Error.WriteLine($"warning: could not restart with {Variable}={Value} (errno {Marshal.GetLastPInvokeError()}); running with the default gen0 budget");
    }

    // Classic marshalling: a string[] goes as a char** of UTF-8 strings, a null element as the terminating NULL.
    [DllImport("libc", EntryPoint = "execve", SetLastError = true)]
    static extern int Execve(string path, string?[] argv, string?[] envp);
}
