using static RlhfActors.Tests.Cli.CliRunner;
using static RlhfActors.Tests.IO.CheckpointDigest;
using static RlhfActors.Tests.Cluster.ClusterStatus;
using System.Text.Json;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Client.Connection;
using RlhfActors.Tests.Cli;

namespace RlhfActors.Tests.Cluster;

/// <summary>
/// Chaos with real processes, three disruptions in one run: redis-server, one control-plane silo and three
/// accelerator silos. A GRPO run (the shortened demo shape: SFT warm-up, then sync GRPO with two samplers, a reward
/// and a KL term) and an SFT run are going. The silo hosting the GRPO learner gets SIGKILL; once the run has resumed
/// on a survivor, the silo hosting the controllers (and the policy registry) gets SIGKILL too; once it has resumed
/// again, the silo now hosting the GRPO learner gets SIGTERM, and its learner checkpoints the step it holds as it
/// shuts down. Nobody issues a command: both runs complete by themselves with exactly the steps asked for and the
/// final weights of uninterrupted runs.
/// </summary>
[Collection(RedisCollection.Name)]
public sealed class GrpoChaosTests
{
    const string Grpo = "chaos-grpo", Sft = "chaos-sft2";
    const int WarmUp = 20, GrpoSteps = 150, CheckpointEvery = 25, SftSteps = 2000;
    static readonly TimeSpan SiloStart = TimeSpan.FromSeconds(120);
    // Detection (~10–30 s: ClusterMembershipSettings) + recovery + the rest of the run, on a loaded 2-core machine.
    static readonly TimeSpan Completion = TimeSpan.FromSeconds(400);
    static readonly TimeSpan Progress = TimeSpan.FromSeconds(240);

    static string GrpoYaml(string outputDir) => ClusterYaml.Grpo(Grpo, outputDir, GrpoSteps, CheckpointEvery);

    static string SftYaml(string outputDir) => ClusterYaml.Sft(Sft, outputDir, SftSteps);

    [Fact]
    public async Task A_grpo_and_an_sft_run_survive_kill_9_of_the_learners_silo_then_of_the_controllers_then_sigterm_and_end_bit_identical()
    {
        await using var redis = await RedisServer.StartAsync();
        using var folder = new TempFolder();
        var silos = new List<SiloProcess>();
        try
        {
            foreach (var accelerator in new[] { false, true, true, true }) silos.Add(SiloProcess.Start(redis, accelerator));
            await Task.WhenAll(silos.Select(s => s.Process.WaitForOutputAsync("silo started", SiloStart)));

            // The uninterrupted runs, embedded.
            var grpoExpected = await EmbeddedDigestAsync(folder, "grpo-embedded", GrpoYaml);
            var sftExpected = await EmbeddedDigestAsync(folder, "sft-embedded", SftYaml);

            foreach (var (label, yaml) in new[] { ("grpo", GrpoYaml(Path.Combine(folder.Path, "grpo"))), ("sft", SftYaml(Path.Combine(folder.Path, "sft"))) })
            {
                var submitted = await CliRunner.RunAsync("run", folder.Write($"{label}.yaml", yaml), "--detach", "--cluster", redis.Url);
                Assert.True(submitted.ExitCode == 0, submitted.ToString());
            }

            // 1. SIGKILL of the GRPO learner's silo, past the stage's first checkpoint and well short of its end.
            var before = await WaitForAsync(redis, Grpo, s => Step(s) >= WarmUp + CheckpointEvery + 5, Progress);
            Assert.True(Step(before) < WarmUp + GrpoSteps - 60, $"the GRPO run was at step {Step(before)} before the first kill could land mid-way");
            var learnerSilo = silos.Single(s => !s.Process.HasExited && s.Process.Stderr.Contains($"Learner {Grpo} activated", StringComparison.Ordinal));
            Assert.NotSame(silos[0], learnerSilo);
            learnerSilo.Process.Kill9();

            // 2. Once it resumed on a survivor and trained further: SIGKILL of the control-plane silo (both controllers,
            // the directory, the policy registry).
            // (One loss can take two recoveries: a call that reached a grain whose directory entry died with the silo
            // finds a fresh activation without a model once membership declares the silo dead.)
            var resumed = await WaitForAsync(redis, Grpo, s => ResumedAndRunning(s, after: 0), Progress);
            Assert.True(Step(resumed) < WarmUp + GrpoSteps - 20, $"the GRPO run was at step {Step(resumed)} before the second kill could land mid-way");
            var sftBefore = await WaitForAsync(redis, Sft, _ => true, Progress);
            silos[0].Process.Kill9();

            // 3. SIGTERM of the silo that now hosts the GRPO learner: it writes checkpoint-<its step> as it leaves.
            var again = await WaitForAsync(redis, Grpo, s => ResumedAndRunning(s, after: Resumes(resumed)), Completion);
            Assert.True(Step(again) < WarmUp + GrpoSteps - 10, $"the GRPO run was at step {Step(again)} before the SIGTERM could land mid-way");
            // Where the learner the controller calls lives now (a loss can leave an orphaned activation behind).
            var learnerPort = await LearnerSiloPortAsync(redis);
            var stopped = silos.Single(s => s.SiloPort == learnerPort);
            Assert.False(stopped.Process.HasExited, "the learner is placed on a silo that exited");
            stopped.Process.Signal(System.Runtime.InteropServices.PosixSignal.SIGTERM);
            Assert.Equal(0, await stopped.Process.WaitForExitAsync(TimeSpan.FromSeconds(60)));
            var shutdownLine = stopped.Process.Stderr.Split('\n').Single(l => l.Contains($"Experiment {Grpo}: silo shutting down; checkpoint of step", StringComparison.Ordinal));
            var shutdownStep = int.Parse(shutdownLine.Split("checkpoint of step ")[1].Split(' ')[0]);

            var grpo = await WaitForAsync(redis, Grpo, IsFinished, Completion);
            var sft = await WaitForAsync(redis, Sft, IsFinished, Completion);
            Console.WriteLine($"grpo chaos: resumed from steps {resumed.GetProperty("resumed_from_step")}, {again.GetProperty("resumed_from_step")} " +
                              $"and {grpo.GetProperty("resumed_from_step")} (shutdown checkpoint {shutdownStep}); sft: {sft.GetProperty("resumes")} resume(s)");

            Assert.True(grpo.GetProperty("state").GetString() == "completed", $"grpo: {grpo}");
            Assert.Equal(WarmUp + GrpoSteps, Step(grpo));
            Assert.Equal(GrpoSteps, grpo.GetProperty("grpo").GetProperty("steps").GetInt32());
            Assert.True(Resumes(grpo) > Resumes(again), $"grpo: {grpo}");
            // The SIGTERM lost nothing: the run went on from the step its learner held when its silo shut down. (Unless
            // the reply to the learner's last step was lost with the silo: the record then stands a step short of the
            // checkpoint, whose cursor is therefore unknown, and the controller says so and takes the one before.)
            var survivors = string.Concat(silos.Where(s => !s.Process.HasExited).Select(s => s.Process.Stderr));
            var shutdownCheckpoint = $"checkpoint-{shutdownStep}";
            Assert.True(survivors.Contains($"Experiment {Grpo}: resumed at step {shutdownStep} from ", StringComparison.Ordinal)
                        || survivors.Contains($"{shutdownCheckpoint} not used for the resume: written at shutdown in a later stage", StringComparison.Ordinal),
                $"the run neither resumed from the shutdown checkpoint of step {shutdownStep} nor said why not");
            Assert.Equal(grpoExpected, WeightsSha256(grpo.GetProperty("checkpoint").GetString()!));

            Assert.True(sft.GetProperty("state").GetString() == "completed", $"sft: {sft}");
            Assert.Equal(SftSteps, Step(sft));
            // Its controller was on the killed control-plane silo whenever it was still running then.
            if (!IsFinished(sftBefore)) Assert.True(sft.GetProperty("resumes").GetInt32() >= 1, $"sft: {sft}");
            Assert.Equal(sftExpected, WeightsSha256(sft.GetProperty("checkpoint").GetString()!));
        }
        finally
        {
            foreach (var silo in silos) await silo.DisposeAsync();
        }
    }

    /// <summary>The silo port of the silo hosting the GRPO learner (<c>ILearnerGrain.GetPlacement</c>, asked through
    /// a client of the cluster).</summary>
    static async Task<int> LearnerSiloPortAsync(RedisServer redis)
    {
        var endpoint = ClusterEndpoint.TryParse(redis.Url, out var error) ?? throw new InvalidOperationException(error);
        await using var connection = await ClusterConnection.ConnectAsync(endpoint);
        var placement = await connection.Client.GetGrain<ILearnerGrain>(Grpo).GetPlacement();
        return placement.Silo.Endpoint.Port;
    }

    static int Resumes(JsonElement status) => status.GetProperty("resumes").GetInt32();

    /// <summary>Recovered more than <paramref name="after"/> times, running, and 10 steps past where it resumed.</summary>
    static bool ResumedAndRunning(JsonElement s, int after) =>
        Resumes(s) > after && s.GetProperty("state").GetString() == "running" && Step(s) >= s.GetProperty("resumed_from_step").GetInt32() + 10;

    static async Task<string> EmbeddedDigestAsync(TempFolder folder, string label, Func<string, string> yaml)
    {
        var run = await CliRunner.RunAsync("run", folder.Write($"{label}.yaml", yaml(Path.Combine(folder.Path, label))), "--json");
        Assert.True(run.ExitCode == 0, run.ToString());
        return WeightsSha256(LastJson(run.Stdout).GetProperty("checkpoint").GetString()!);
    }
}
