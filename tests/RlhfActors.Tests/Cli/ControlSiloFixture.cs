using Microsoft.Extensions.Logging;
using RlhfActors.Silo.Hosting;

namespace RlhfActors.Tests.Cli;

/// <summary>
/// A silo as <c>rlhf silo</c> runs it (same hosting code, the standalone silo's cluster id) on free ports, for the
/// commands that connect with <c>--cluster localhost:&lt;port&gt;</c>. One per test class: tests use distinct
/// experiment names.
/// </summary>
public sealed class ControlSiloFixture : IAsyncLifetime
{
    readonly StringWriter _log = new();

    public EmbeddedSilo Silo { get; private set; } = null!;

    /// <summary>The <c>--cluster</c> value that reaches this silo.</summary>
    public string Cluster => $"localhost:{Silo.Options.GatewayPort}";

    public async Task InitializeAsync() =>
        Silo = await EmbeddedSilo.StartAsync(new RlhfSiloOptions
        {
            SiloPort = EmbeddedSilo.FreeLoopbackPort(),
            GatewayPort = EmbeddedSilo.FreeLoopbackPort(),
        }, TextWriter.Synchronized(_log), LogLevel.Warning);

    public async Task DisposeAsync() => await Silo.DisposeAsync();
}
