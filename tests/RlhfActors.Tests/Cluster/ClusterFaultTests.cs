using System.Diagnostics;
using RlhfActors.Silo.Hosting;
using RlhfActors.Tests.Cli;

namespace RlhfActors.Tests.Cluster;

/// <summary>What a user sees when the cluster half is pointed at the wrong place: one line naming the endpoint, the
/// documented exit code, no stack trace, no password.</summary>
[Collection(RedisCollection.Name)]
public sealed class ClusterFaultTests
{
    static void NoStackTrace(string output) => Assert.DoesNotContain("   at ", output);

    [Fact]
    public async Task A_silo_whose_redis_does_not_answer_exits_within_seconds_naming_the_endpoint()
    {
        var port = EmbeddedSilo.FreeLoopbackPort();
        var clock = Stopwatch.StartNew();
        var outcome = await CliRunner.RunAsync("silo", "--redis", $"127.0.0.1:{port}",
            "--silo-port", EmbeddedSilo.FreeLoopbackPort().ToString(), "--gateway-port", EmbeddedSilo.FreeLoopbackPort().ToString());
        Assert.True(outcome.ExitCode == 1, outcome.ToString());
        Assert.Contains($"cannot reach Redis at redis://127.0.0.1:{port}", outcome.Stderr);
        NoStackTrace(outcome.Stderr);
        // RedisOptions.ConnectTimeoutSeconds (5) plus slack for a loaded machine; the point is "seconds, not a hang".
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"took {clock.Elapsed}");
    }

    [Fact]
    public async Task A_client_whose_redis_does_not_answer_exits_3_naming_the_endpoint()
    {
        var port = EmbeddedSilo.FreeLoopbackPort();
        var outcome = await CliRunner.RunAsync("status", "anything", "--cluster", $"redis://127.0.0.1:{port}");
        Assert.True(outcome.ExitCode == 3, outcome.ToString());
        Assert.Contains($"redis://127.0.0.1:{port}", outcome.Stderr);
        NoStackTrace(outcome.Stderr);
    }

    [Fact]
    public async Task A_client_pointed_at_a_redis_with_no_live_silo_exits_3()
    {
        await using var redis = await RedisServer.StartAsync();
        var outcome = await CliRunner.RunAsync("list", "--cluster", redis.Url);
        Assert.True(outcome.ExitCode == 3, outcome.ToString());
        Assert.Contains($"no live silo of cluster 'rlhf-dev' is registered in Redis at {redis.Url}", outcome.Stderr);
        NoStackTrace(outcome.Stderr);
    }

    [Fact]
    public async Task Credentials_in_a_cluster_url_are_refused_without_being_repeated()
    {
        var outcome = await CliRunner.RunAsync("list", "--cluster", "redis://admin:hunter2-secret@127.0.0.1:6379");
        Assert.True(outcome.ExitCode == 2, outcome.ToString());
        Assert.Contains("Rlhf__Redis__Password", outcome.Stderr);
        Assert.DoesNotContain("hunter2-secret", outcome.Stderr + outcome.Stdout);
    }

    [Fact]
    public async Task A_silo_with_the_wrong_redis_password_exits_naming_the_endpoint_but_not_the_password()
    {
        await using var redis = await RedisServer.StartAsync("right-password-41");
        await using var silo = RlhfProcess.Start(new Dictionary<string, string> { ["Rlhf__Redis__Password"] = "wrong-password-17" },
            "silo", "--redis", redis.Endpoint, "--silo-port", EmbeddedSilo.FreeLoopbackPort().ToString(),
            "--gateway-port", EmbeddedSilo.FreeLoopbackPort().ToString());
        var code = await silo.WaitForExitAsync(TimeSpan.FromSeconds(60));
        Assert.True(code == 1, $"exit {code}\n{silo}");
        Assert.Contains($"redis://{redis.Endpoint}", silo.Stderr);
        Assert.DoesNotContain("wrong-password-17", silo.ToString());
        Assert.DoesNotContain("right-password-41", silo.ToString());
        NoStackTrace(silo.Stderr);
    }

    [Fact]
    public async Task A_misspelt_setting_in_the_environment_stops_the_silo_with_exit_2_naming_it()
    {
        await using var silo = RlhfProcess.Start(new Dictionary<string, string> { ["Rlhf__Reddis__Endpoint"] = "127.0.0.1:6379" }, "silo");
        var code = await silo.WaitForExitAsync(TimeSpan.FromSeconds(60));
        Assert.True(code == 2, $"exit {code}\n{silo}");
        Assert.Contains("Rlhf__Reddis__Endpoint", silo.Stderr);
        NoStackTrace(silo.Stderr);
    }
}
