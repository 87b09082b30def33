using System.Collections.Immutable;
using System.Diagnostics;
using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Experiments;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Client.Connection;

namespace RlhfActors.Bench;

/// <summary>
/// What a lost silo costs a run. A real cluster (deploy/local/cluster.sh: redis-server, a control-plane silo and two
/// silos advertising an accelerator) runs the main job's model on SFT twice per round: once uninterrupted, once with
/// the learner's silo killed (SIGKILL) at a fixed step. From the client's status polls (every 100 ms):
/// when the run noticed (kill → the controller reports "recovering": its call to the learner broke), when membership
/// declared the silo dead (<c>rlhf cluster</c> shows it Dead), reactivation and checkpoint load (→ training again on a
/// surviving silo), the steps recomputed (the step
/// at the kill − the checkpoint's), and the time lost (the interrupted run's wall time − the uninterrupted one's).
/// The membership settings are the silos' (Rlhf__Membership__…, defaults in ClusterMembershipSettings); the first
/// line of output records them.
/// </summary>
public static class RecoveryBench
{
    public static void Run(BenchOptions options) => RunAsync(options).GetAwaiter().GetResult();

    static async Task RunAsync(BenchOptions options)
    {
        int steps = options.Quick ? 600 : 1500, every = options.Quick ? 200 : 500, killAt = options.Quick ? 450 : 1250;
        int rounds = options.Quick ? 1 : 2;
        var membership = Silo.Hosting.SiloConfiguration.Membership(Silo.Hosting.SiloConfiguration.FromEnvironment());
        JsonLine.Write("recovery-settings", ("probe_timeout_s", membership.ProbeTimeoutSeconds), ("missed_probes_limit", membership.MissedProbesLimit),
            ("steps", steps), ("checkpoint_every", every), ("kill_at_step", killAt), ("rounds", rounds));

        for (int round = 0; round < rounds; round++)
        {
            var dir = Path.Combine(Path.GetTempPath(), "rlhf-bench-recovery", Guid.NewGuid().ToString("N"));
            JsonLine.Progress($"recovery round {round}: starting redis-server and three silo processes");
            var url = await LocalCluster.StartAsync(dir, silos: 3, accelerators: 2);
            try
            {
                var endpoint = ClusterEndpoint.TryParse(url, out var error) ?? throw new InvalidOperationException(error);
                await using var connection = await ClusterConnection.ConnectAsync(endpoint);
                var client = connection.Client;

                var uninterrupted = await RunAsync(client, Config($"recovery-a-{round}", steps, every), killAt: null, dir);
                var interrupted = await RunAsync(client, Config($"recovery-b-{round}", steps, every), killAt, dir);
                JsonLine.Write("recovery", ("round", round), ("uninterrupted_s", uninterrupted.WallSeconds), ("interrupted_s", interrupted.WallSeconds),
                    ("killed_at_step", interrupted.KilledAtStep), ("resumed_from_step", interrupted.ResumedFrom),
                    ("steps_recomputed", interrupted.KilledAtStep - interrupted.ResumedFrom),
                    ("noticed_s", interrupted.Detection), ("declared_dead_s", interrupted.DeclaredDead), ("reactivation_s", interrupted.Reactivation),
                    ("detection_plus_reactivation_s", interrupted.Detection + interrupted.Reactivation),
                    ("time_lost_s", interrupted.WallSeconds - uninterrupted.WallSeconds));
            }
            finally
            {
                await LocalCluster.StopAsync(dir);
            }
        }
    }

    sealed record Outcome(double WallSeconds, int KilledAtStep, int ResumedFrom, double Detection, double Reactivation, double DeclaredDead);

    static async Task<Outcome> RunAsync(IClusterClient client, ExperimentConfig config, int? killAt, string clusterDir)
    {
        JsonLine.Progress($"recovery: {config.Name}{(killAt is { } k ? $" (kill the learner's silo at step {k})" : "")}");
        var grain = client.GetGrain<IExperimentGrain>(config.Name);
        await grain.Start(config);
        int killedAt = -1;
        Stopwatch? sinceKill = null;
        double detection = double.NaN, reactivation = double.NaN;
        string? victim = null;
        Task<double> declaredDeadTask = Task.FromResult(double.NaN);
        ExperimentStatus status;
        try
        {
            while (true)
            {
                status = await PollAsync(grain);
                if (status.IsFinished) break;
                if (killAt is { } at && sinceKill is null && status.Step >= at)
                {
                    killedAt = status.Step;
                    victim = await LocalCluster.KillLearnerSiloAsync(client, clusterDir);
                    sinceKill = Stopwatch.StartNew();
                    declaredDeadTask = WhenDeclaredDeadAsync(client, victim, sinceKill);
                }
                else if (sinceKill is not null && double.IsNaN(detection) && status.Phase.StartsWith("recovering", StringComparison.Ordinal))
                {
                    detection = sinceKill.Elapsed.TotalSeconds;
                }
                else if (sinceKill is not null && double.IsNaN(reactivation) && status.Resumes > 0 && status.Phase == "training")
                {
                    reactivation = sinceKill.Elapsed.TotalSeconds - (double.IsNaN(detection) ? 0 : detection);
                }
                await Task.Delay(100);
            }
            if (status.State != ExperimentState.Completed) throw new InvalidOperationException($"{config.Name} {status.State}: {status.Error}");
            var result = await grain.GetResult() ?? throw new InvalidOperationException($"{config.Name}: no result");
            // -1: not seen within a minute of the kill.
            var declaredDead = await declaredDeadTask;
            return new Outcome(result.WallSeconds, killedAt, status.ResumedFromStep ?? 0, Seen(detection), Seen(reactivation), Seen(declaredDead));
        }
        finally
        {
            if (Directory.Exists(config.OutputDir)) Directory.Delete(config.OutputDir, recursive: true);
        }
    }

    static double Seen(double seconds) => double.IsNaN(seconds) ? -1 : seconds;

    /// <summary>Seconds from the kill until membership lists the silo (its address as <c>rlhf cluster</c> prints it)
    /// as dead, polled every 100 ms from the management grain's table; NaN if not within a minute.</summary>
    static async Task<double> WhenDeclaredDeadAsync(IClusterClient client, string address, Stopwatch sinceKill)
    {
        var management = client.GetGrain<IManagementGrain>(0);
        while (sinceKill.Elapsed < TimeSpan.FromMinutes(1))
        {
            try
            {
                var hosts = await management.GetDetailedHosts(onlyActive: false);
                if (hosts.Any(h => h.SiloAddress.ToString() == address && h.Status == SiloStatus.Dead)) return sinceKill.Elapsed.TotalSeconds;
            }
            catch (Exception)
            {
                // The answering silo may be the one re-placing grains; ask again.
            }
            await Task.Delay(100);
        }
        return double.NaN;
    }

    /// <summary>A status, riding out the moments when the controller itself is being re-placed.</summary>
    static async Task<ExperimentStatus> PollAsync(IExperimentGrain grain)
    {
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                return await grain.GetStatus();
            }
            catch (Exception) when (attempt < 100)
            {
                await Task.Delay(200);
            }
        }
    }

    /// <summary>The main job's model and task (sft-arithmetic.yaml), shortened.</summary>
    static ExperimentConfig Config(string name, int steps, int every) => new()
    {
        Name = $"{name}-{Guid.NewGuid():N}"[..32],
        Algorithm = Algorithm.Sft,
        Seed = 1,
        Model = new ModelSection { Init = ModelSection.Scratch, DType = ModelDType.Fp32, Tokenizer = "char", ConfigJson = PipelineBench.ModelConfigJson },
        Data = new DataSection
        {
            Task = "addition",
            TaskParameters = ImmutableSortedDictionary<string, int>.Empty.Add("digits", 3),
            TrainExamples = 50000,
            EvalExamples = 50,
        },
        Sft = new SftSection { Steps = steps, BatchSize = 64, LearningRate = 0.003, WarmupSteps = 50 },
        Eval = new EvalSection { Every = 0, MaxNewTokens = 6 },
        Checkpoint = new CheckpointSection { Every = every, Keep = 2 },
        OutputDir = Path.Combine(Path.GetTempPath(), "rlhf-bench", Guid.NewGuid().ToString("N")),
    };
}
