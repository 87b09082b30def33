using System.CommandLine;
using RlhfActors.Client.Commands;

namespace RlhfActors.Client;

/// <summary>The <c>rlhf</c> command line. <see cref="RunAsync"/> is the whole program, callable in-process (tests).</summary>
public static class Cli
{
    /// <summary>How long Ctrl+C or SIGTERM waits for the command to end cleanly. Under the 30 s that Docker and
    /// Kubernetes allow by default before SIGKILL, with room for the runtime's own exit.</summary>
    public static readonly TimeSpan ShutdownGrace = TimeSpan.FromSeconds(25);

    /// <summary>Every command; parsing alone runs nothing (tests parse the command lines of deploy/ with it).</summary>
    public static RootCommand CreateRoot(CliContext context) => new("rlhf: actor-based RLHF training on Orleans + TorchSharp")
    {
        RunCommand.Create(context),
        ControlCommands.Status(context),
        MetricsCommand.Create(context),
        ControlCommands.Pause(context),
        ControlCommands.Resume(context),
        ControlCommands.Stop(context),
        ClusterCommands.Cluster(context),
        ClusterCommands.List(context),
        SiloCommand.Create(context),
        GenerateCommand.Create(context),
        TokenizeCommand.Create(context),
        ExportCommand.Create(context),
        VerifyCommand.Create(context),
        EvalCommand.Create(context),
        TraceCommand.Create(context),
        RolloutsCommand.Create(context),
        PlotCommand.Create(context),
    };

    /// <param name="handleCtrlC">Let Ctrl+C cancel the running command (the real program); tests leave it off so
    /// they do not hook the test host's signals.</param>
    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, bool handleCtrlC = false)
    {
        var terminal = handleCtrlC && ReferenceEquals(stdout, Console.Out) && !Console.IsOutputRedirected;
        var context = new CliContext(stdout, stderr, terminal);
        var root = CreateRoot(context);

        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            // System.CommandLine would exit with 1; usage errors are 2 here, like a bad config.
            foreach (var error in parse.Errors) stderr.WriteLine($"error: {error.Message}");
            stderr.WriteLine("see 'rlhf --help'");
            return ExitCodes.Usage;
        }
        var invocation = new InvocationConfiguration
        {
            Output = stdout,
            Error = stderr,
            // Ctrl+C and SIGTERM cancel the command, then wait this long for it to end cleanly: a run checkpoints its
            // last step, a silo leaves the cluster (so the others need not wait ~30 s to declare it dead) and frees
            // its grains. Past it the process exits anyway.
            ProcessTerminationTimeout = handleCtrlC ? ShutdownGrace : null,
        };
        return await parse.InvokeAsync(invocation);
    }
}
