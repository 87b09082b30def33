using RlhfActors.Client;

namespace RlhfActors.Tests.Cli;

/// <summary>Runs the rlhf entry point in-process and captures what it printed.</summary>
public static class CliRunner
{
    public sealed record Outcome(int ExitCode, string Stdout, string Stderr)
    {
        public override string ToString() => $"exit {ExitCode}\n--- stdout ---\n{Stdout}\n--- stderr ---\n{Stderr}";
    }

    /// <summary>The last line of <paramref name="stdout"/> as JSON: the one-object result of <c>--json</c>.</summary>
    public static System.Text.Json.JsonElement LastJson(string stdout) =>
        System.Text.Json.JsonDocument.Parse(stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1]).RootElement;

    public static async Task<Outcome> RunAsync(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var code = await RlhfActors.Client.Cli.RunAsync(args, TextWriter.Synchronized(stdout), TextWriter.Synchronized(stderr));
        return new Outcome(code, stdout.ToString(), stderr.ToString());
    }
}

/// <summary>A temporary folder for config files, deleted afterwards.</summary>
public sealed class TempFolder : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "rlhf-cli-tests", Guid.NewGuid().ToString("N"));

    public TempFolder() => Directory.CreateDirectory(Path);

    public string Write(string name, string text)
    {
        var file = System.IO.Path.Combine(Path, name);
        File.WriteAllText(file, text);
        return file;
    }

    public void Dispose()
    {
        if (Directory.Exists(Path)) Directory.Delete(Path, recursive: true);
    }
}
