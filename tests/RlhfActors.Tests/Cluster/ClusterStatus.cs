using System.Diagnostics;
using System.Text.Json;
using RlhfActors.Tests.Cli;

namespace RlhfActors.Tests.Cluster;

/// <summary>What the chaos tests read of a running cluster, through the real client and Redis.</summary>
static class ClusterStatus
{
    /// <summary>Polls <c>rlhf status &lt;experiment&gt; --json</c> (every 250 ms, at most <paramref name="limit"/>)
    /// until <paramref name="until"/> holds.</summary>
    public static async Task<JsonElement> WaitForAsync(RedisServer redis, string experiment, Func<JsonElement, bool> until, TimeSpan limit)
    {
        var clock = Stopwatch.StartNew();
        JsonElement last = default;
        while (clock.Elapsed < limit)
        {
            var status = await CliRunner.RunAsync("status", experiment, "--json", "--cluster", redis.Url);
            if (status.ExitCode == 0)
            {
                last = JsonDocument.Parse(status.Stdout).RootElement.Clone();
                if (until(last)) return last;
            }
            await Task.Delay(250);
        }
        throw new TimeoutException($"{experiment}: status did not reach the expected state within {limit.TotalSeconds} s; last: {last}");
    }

    public static bool IsFinished(JsonElement status) => status.GetProperty("state").GetString() is "completed" or "failed" or "stopped";

    public static int Step(JsonElement status) => status.GetProperty("step").GetInt32();
}
