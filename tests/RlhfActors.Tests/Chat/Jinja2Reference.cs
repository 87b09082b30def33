using System.Diagnostics;
using System.Text.Json.Nodes;

namespace RlhfActors.Tests.Chat;

/// <summary>Runs render_jinja2.py (Python's jinja2 set up as transformers sets it up) on one template and many
/// contexts. Python 3 with jinja2 comes from Debian's python3-jinja2, which .ci/run installs.</summary>
static class Jinja2Reference
{
    public static readonly DateTime Now = new(2026, 12, 2, 9, 30, 0);

    /// <summary>One entry per context: the rendered text, or null with the error when jinja2 refused it.</summary>
    public static IReadOnlyList<(string? Text, string? Error)> Render(string template, IEnumerable<JsonObject> contexts, DateTime? now = null)
    {
        var request = new JsonObject
        {
            ["template"] = template,
            ["now"] = (now ?? Now).ToString("s"),
            ["contexts"] = new JsonArray(contexts.Select(c => (JsonNode)c.DeepClone()).ToArray()),
        };
        var start = new ProcessStartInfo("python3", [Path.Combine(AppContext.BaseDirectory, "Chat", "render_jinja2.py")])
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        using var process = Process.Start(start) ?? throw new InvalidOperationException("python3 did not start");
        try
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            process.StandardInput.Write(request.ToJsonString());
            process.StandardInput.Close();
            if (!process.WaitForExit(TimeSpan.FromSeconds(60))) throw new TimeoutException("render_jinja2.py ran over 60 s");
            if (process.ExitCode != 0) throw new InvalidOperationException($"render_jinja2.py exited {process.ExitCode}: {stderr.Result}");
            return JsonNode.Parse(stdout.Result)!.AsArray()
                .Select(r => ((string?)r!["text"], (string?)r["error"])).ToArray();
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
    }
}
