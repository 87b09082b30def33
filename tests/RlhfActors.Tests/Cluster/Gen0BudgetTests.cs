using System.Runtime.InteropServices;
using RlhfActors.Silo.Hosting;

namespace RlhfActors.Tests.Cluster;

/// <summary>
/// A process that trains gets the larger gen0 budget even when started without it (docs/torchsharp-on-debian.md): the
/// real <c>rlhf silo</c> process replaces itself with one that has the variable, keeping its PID, so the signal a user
/// sends still ends it. A value the user set is left alone.
/// </summary>
public sealed class Gen0BudgetTests
{
    static readonly TimeSpan SiloStart = TimeSpan.FromSeconds(90);
    static readonly TimeSpan SiloStop = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData("", Gen0Budget.Value)]              // unset (empty counts as unset): restarted with the budget
    [InlineData("0x4000000", "0x4000000")]          // the user's own value: kept, no restart
    public async Task The_silo_runs_with_a_gen0_budget_under_the_pid_it_was_started_with(string given, string expected)
    {
        if (!OperatingSystem.IsLinux()) return;   // /proc is how the test reads the running process's environment
        var (siloPort, gatewayPort) = (EmbeddedSilo.FreeLoopbackPort(), EmbeddedSilo.FreeLoopbackPort());
        await using var silo = RlhfProcess.Start(new Dictionary<string, string> { [Gen0Budget.Variable] = given },
            "silo", "--silo-port", siloPort.ToString(), "--gateway-port", gatewayPort.ToString());
        await silo.WaitForOutputAsync("silo started", SiloStart);

        var environment = File.ReadAllText($"/proc/{silo.Pid}/environ").Split('\0');
        Assert.Equal([$"{Gen0Budget.Variable}={expected}"], environment.Where(e => e.StartsWith(Gen0Budget.Variable + "=", StringComparison.Ordinal)));
        Assert.Contains("silo", File.ReadAllText($"/proc/{silo.Pid}/cmdline").Split('\0'));

        silo.Signal(PosixSignal.SIGTERM);
        Assert.Equal(0, await silo.WaitForExitAsync(SiloStop));
    }
}
