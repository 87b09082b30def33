using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using RlhfActors.Client;

namespace RlhfActors.Tests.Cli;

/// <summary><c>rlhf run --detach</c>, <c>status</c>, <c>pause</c>, <c>resume</c> and <c>stop</c> against a running
/// silo, through the CLI entry point.</summary>
public sealed class ControlCommandTests(ControlSiloFixture silo) : IClassFixture<ControlSiloFixture>, IDisposable
{
    readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    /// <summary>The tiny config under another name (one silo serves the whole class), optionally a long run.</summary>
    string WriteConfig(string name, bool longRun = false)
    {
        var text = TinyYaml.With(TinyYaml.Text(Path.Combine(_folder.Path, name)), "name: tiny-cli", $"name: {name}");
        if (longRun)
        {
            text = TinyYaml.With(text, "  steps: 30", "  steps: 5000");
            text = TinyYaml.With(text, "  every: 15", "  every: 0");
        }
        return _folder.Write($"{name}.yaml", text);
    }

    [Fact]
    public async Task Run_detach_prints_the_id_and_status_and_stop_act_on_it()
    {
        var run = await CliRunner.RunAsync("run", WriteConfig("detached"), "--detach", "--cluster", silo.Cluster);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("detached", run.Stdout.TrimEnd());

        var status = await CliRunner.RunAsync("status", "detached", "--cluster", silo.Cluster);
        Assert.True(status.ExitCode == 0, status.ToString());
        Assert.Contains("experiment: detached", status.Stdout);
        Assert.Matches("state: (running|completed)", status.Stdout);
        Assert.Matches(@"step: \d+/30", status.Stdout);

        var stop = await CliRunner.RunAsync("stop", "detached", "--cluster", silo.Cluster, "--reason", "test");
        Assert.True(stop.ExitCode == 0, stop.ToString());
        Assert.Matches("state: (stopped|completed)", stop.Stdout);
    }

    [Fact]
    public async Task Pause_resume_and_stop_with_json_end_in_a_checkpoint()
    {
        var run = await CliRunner.RunAsync("run", WriteConfig("controlled", longRun: true), "--detach", "--json", "--cluster", silo.Cluster);
        Assert.True(run.ExitCode == 0, run.ToString());
        using (var submitted = JsonDocument.Parse(run.Stdout))
        {
            Assert.Equal("controlled", submitted.RootElement.GetProperty("experiment").GetString());
            Assert.Equal("running", submitted.RootElement.GetProperty("state").GetString());
        }
        await WaitForFirstStepAsync("controlled");

        var pause = await Control("pause", "controlled");
        Assert.Equal("paused", pause.GetProperty("state").GetString());
        var step = pause.GetProperty("step").GetInt32();

        var again = await CliRunner.RunAsync("pause", "controlled", "--cluster", silo.Cluster);
        Assert.True(again.ExitCode == ExitCodes.WrongState, again.ToString());
        Assert.Contains($"experiment 'controlled' is paused (step {step}/5000): only a running experiment can be paused", again.Stderr);

        Assert.Equal("running", (await Control("resume", "controlled")).GetProperty("state").GetString());

        var stop = await Control("stop", "controlled", "--reason", "enough");
        Assert.Equal("stopped", stop.GetProperty("state").GetString());
        Assert.Equal("stopped: enough", stop.GetProperty("error").GetString());
        var checkpoint = stop.GetProperty("checkpoint").GetString()!;
        Assert.Equal($"checkpoint-{stop.GetProperty("step").GetInt32()}", Path.GetFileName(checkpoint));
        Assert.True(File.Exists(Path.Combine(checkpoint, "manifest.json")), $"no manifest.json in {checkpoint}");

        var resume = await CliRunner.RunAsync("resume", "controlled", "--cluster", silo.Cluster);
        Assert.True(resume.ExitCode == ExitCodes.WrongState, resume.ToString());
        Assert.Contains("is stopped", resume.Stderr);
    }

    [Fact]
    public async Task An_experiment_the_cluster_never_started_is_an_error()
    {
        var status = await CliRunner.RunAsync("status", "no-such-experiment", "--cluster", silo.Cluster);

        Assert.True(status.ExitCode == ExitCodes.UnknownExperiment, status.ToString());
        Assert.Contains($"error: no experiment 'no-such-experiment' on the cluster at {silo.Cluster}", status.Stderr);
        Assert.Equal("", status.Stdout);
    }

    [Fact]
    public async Task No_silo_at_the_cluster_endpoint_is_a_clear_error()
    {
        var port = UnusedPort();
        var clock = Stopwatch.StartNew();

        var status = await CliRunner.RunAsync("status", "anything", "--cluster", $"localhost:{port}");

        Assert.True(status.ExitCode == ExitCodes.NoSilo, status.ToString());
        Assert.Equal($"error: no silo at localhost:{port}: start one with `dotnet run --project src/Silo` or `rlhf silo`",
            status.Stderr.TrimEnd());
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed} to give up");

        var detach = await CliRunner.RunAsync("run", WriteConfig("nowhere"), "--detach", "--cluster", $"localhost:{port}");
        Assert.True(detach.ExitCode == ExitCodes.NoSilo, detach.ToString());
        Assert.Contains($"no silo at localhost:{port}", detach.Stderr);
    }

    [Theory]
    [InlineData("status", "x", "--cluster", "localhost")]
    [InlineData("status", "x", "--cluster", "localhost:0")]
    [InlineData("stop", "x", "--cluster", "localhost:http")]
    public async Task A_bad_cluster_endpoint_is_a_usage_error(params string[] args)
    {
        var run = await CliRunner.RunAsync(args);
        Assert.True(run.ExitCode == ExitCodes.Usage, run.ToString());
        Assert.Contains("--cluster:", run.Stderr);
    }

    [Fact]
    public async Task A_bad_config_with_detach_is_refused_before_connecting()
    {
        var text = TinyYaml.With(TinyYaml.Text(Path.Combine(_folder.Path, "out")), "  steps: 30", "  steps: 0");
        var run = await CliRunner.RunAsync("run", _folder.Write("bad.yaml", text), "--detach", "--cluster", $"localhost:{UnusedPort()}");

        Assert.True(run.ExitCode == ExitCodes.Usage, run.ToString());
        Assert.Contains("sft.steps must be > 0 (got 0)", run.Stderr);
    }

    [Fact]
    public async Task Run_with_cluster_and_without_detach_follows_the_run_on_that_silo_to_the_end()
    {
        var run = await CliRunner.RunAsync("run", WriteConfig("attached"), "--json", "--cluster", silo.Cluster);

        Assert.True(run.ExitCode == 0, run.ToString());
        using var json = JsonDocument.Parse(run.Stdout.TrimEnd().Split('\n')[^1]);
        Assert.Equal("attached", json.RootElement.GetProperty("experiment").GetString());
        Assert.Equal(30, json.RootElement.GetProperty("steps").GetInt32());
        var status = await Control("status", "attached");
        Assert.Equal("completed", status.GetProperty("state").GetString());
    }

    [Theory]
    [InlineData("--gateway-port", "0", "--gateway-port must be a TCP port 1-65535 (got 0)")]
    [InlineData("--silo-port", "70000", "--silo-port must be a TCP port 1-65535 (got 70000)")]
    [InlineData("--silo-port", "30000", "--gateway-port and --silo-port must differ (both 30000)")]
    public async Task Silo_refuses_bad_ports(string option, string value, string expected)
    {
        var run = await CliRunner.RunAsync("silo", option, value);

        Assert.True(run.ExitCode == ExitCodes.Usage, run.ToString());
        Assert.Contains(expected, run.Stderr);
        Assert.Equal("", run.Stdout);
    }

    async Task<JsonElement> Control(string command, string id, params string[] more)
    {
        var run = await CliRunner.RunAsync([command, id, "--json", "--cluster", silo.Cluster, .. more]);
        Assert.True(run.ExitCode == 0, run.ToString());
        using var json = JsonDocument.Parse(run.Stdout);
        return json.RootElement.Clone();
    }

    [Fact]
    public async Task Status_shows_the_latest_metrics_with_a_sparkline_and_metrics_follows_until_the_run_ends()
    {
        var yaml = WriteConfig("watched");
        File.AppendAllText(yaml, "\nlogging_steps: 5\n");
        var run = await CliRunner.RunAsync("run", yaml, "--detach", "--cluster", silo.Cluster);
        Assert.True(run.ExitCode == 0, run.ToString());

        // Follows from the controller's silo until the run ends (bounded: 30 steps of the tiny model).
        var followed = await CliRunner.RunAsync("metrics", "watched", "--follow", "--json", "--cluster", silo.Cluster, "--timeout", "120");
        Assert.True(followed.ExitCode == 0, followed.ToString());
        var steps = followed.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => JsonDocument.Parse(l).RootElement.GetProperty("step").GetInt32()).ToArray();
        Assert.Equal([0, 5, 10, 15, 20, 25, 30], steps);
        Assert.Equal("completed", (await Control("status", "watched")).GetProperty("state").GetString());

        var status = await CliRunner.RunAsync("status", "watched", "--cluster", silo.Cluster);
        Assert.True(status.ExitCode == 0, status.ToString());
        Assert.Contains("metrics: step 30  sft  v", status.Stdout);
        Assert.Matches(@"trend: loss [▁▂▃▄▅▆▇█]{6} \S+ → \S+ \(last 6 logged steps\)", status.Stdout);
        var json = await Control("status", "watched");
        Assert.Equal(30, json.GetProperty("metrics").GetProperty("step").GetInt32());

        var unknown = await CliRunner.RunAsync("metrics", "never-started", "--cluster", silo.Cluster);
        Assert.True(unknown.ExitCode == ExitCodes.UnknownExperiment, unknown.ToString());
    }

    async Task WaitForFirstStepAsync(string id)
    {
        var clock = Stopwatch.StartNew();
        while ((await Control("status", id)).GetProperty("step").GetInt32() == 0)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), "no step within 30 s");
            await Task.Delay(100);
        }
    }

    /// <summary>A port nothing listens on: bound, read, released.</summary>
    static int UnusedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
