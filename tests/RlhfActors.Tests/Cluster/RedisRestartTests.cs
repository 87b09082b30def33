using static RlhfActors.Tests.Cli.CliRunner;
using static RlhfActors.Tests.IO.CheckpointDigest;
using static RlhfActors.Tests.Cluster.ClusterStatus;
using System.Text.Json;
using RlhfActors.Tests.Cli;

namespace RlhfActors.Tests.Cluster;

/// <summary>
/// Redis restarted mid-run, with its data kept (append-only file): a real redis-server gets SIGTERM while an SFT run
/// is going on two silo processes, stays down for a few seconds and comes back on the same port. The run goes on
/// (its controller keeps working in memory and writes its record again once Redis is back), completes with exactly
/// its steps and the weights of an uninterrupted run, and its record and the directory's are intact afterwards.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class RedisRestartTests
{
    const string Name = "redis-restart";
    const int Steps = 1500;
    static readonly TimeSpan SiloStart = TimeSpan.FromSeconds(120);
    static readonly TimeSpan Progress = TimeSpan.FromSeconds(180);
    static readonly TimeSpan Completion = TimeSpan.FromSeconds(300);

    static string Yaml(string outputDir) => ClusterYaml.Sft(Name, outputDir, Steps);

    [Fact]
    public async Task A_run_goes_on_through_a_redis_restart_and_ends_bit_identical()
    {
        await using var redis = await RedisServer.StartAsync(keepData: true);
        using var folder = new TempFolder();
        var silos = new List<SiloProcess>();
        try
        {
            foreach (var accelerator in new[] { false, true }) silos.Add(SiloProcess.Start(redis, accelerator));
            await Task.WhenAll(silos.Select(s => s.Process.WaitForOutputAsync("silo started", SiloStart)));

            var embedded = await CliRunner.RunAsync("run", folder.Write("embedded.yaml", Yaml(Path.Combine(folder.Path, "embedded"))), "--json");
            Assert.True(embedded.ExitCode == 0, embedded.ToString());
            var expected = WeightsSha256(LastJson(embedded.Stdout).GetProperty("checkpoint").GetString()!);

            var submitted = await CliRunner.RunAsync("run", folder.Write("cluster.yaml", Yaml(Path.Combine(folder.Path, "cluster"))),
                "--detach", "--cluster", redis.Url);
            Assert.True(submitted.ExitCode == 0, submitted.ToString());
            var before = await WaitForAsync(redis, Name, s => Step(s) >= 200, Progress);
            Assert.True(Step(before) < Steps - 500, $"the run was at step {Step(before)} before Redis could be restarted mid-way");

            // Down longer than the Redis client's 5 s backlog timeout: a write of the record does fail meanwhile.
            await redis.RestartAsync(down: TimeSpan.FromSeconds(8));

            var done = await WaitForAsync(redis, Name, IsFinished, Completion);
            Assert.True(done.GetProperty("state").GetString() == "completed", done.ToString());
            Assert.Equal(Steps, Step(done));
            Assert.Equal(expected, WeightsSha256(done.GetProperty("checkpoint").GetString()!));
            foreach (var silo in silos) Assert.False(silo.Process.HasExited, $"a silo exited:\n{silo.Process}");
            // The controller kept training while its record could not be written, and wrote it again afterwards.
            var controllerLog = silos[0].Process.Stderr;
            Assert.Contains($"Experiment {Name}: its record could not be written", controllerLog);
            Assert.Contains($"Experiment {Name}: its record is written again", controllerLog);

            // The records written before the restart are still there: the directory lists the run, with its result.
            var list = await CliRunner.RunAsync("list", "--json", "--cluster", redis.Url);
            Assert.True(list.ExitCode == 0, list.ToString());
            var listed = JsonDocument.Parse(list.Stdout).RootElement.GetProperty("experiments").EnumerateArray()
                .Single(e => e.GetProperty("experiment").GetString() == Name);
            Assert.Equal("completed", listed.GetProperty("state").GetString());
            Console.WriteLine($"redis restart: restarted at step {Step(before)}; resumes {done.GetProperty("resumes")}");
        }
        finally
        {
            foreach (var silo in silos) await silo.DisposeAsync();
        }
    }
}
