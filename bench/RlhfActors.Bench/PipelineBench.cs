using System.Collections.Immutable;
using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime.MembershipService.SiloMetadata;
using Orleans.TestingHost;
using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Experiments;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Grains.Device;
using RlhfActors.Grains.Placement;
using RlhfActors.Grains.Specs;
using RlhfActors.Silo.Hosting;
using RlhfActors.Training.Data;
using RlhfActors.Training.Rewards;
using RlhfActors.Training.Rl;
using RlhfActors.Training.Sft;

namespace RlhfActors.Bench;

/// <summary>
/// What the actors cost over the same math in one process, and what async rollouts buy. One GRPO config (3-digit
/// addition, the demo's decoder, 32 prompts × 8 completions, exact-match reward, β = 0.04 so the reference is asked)
/// runs as: the in-process <see cref="InProcessGrpo"/>; the grain pipeline on one silo; on two silos (heavy grains on the
/// silo that advertises an accelerator, controller / policy registry / reward on the other, so every message
/// crosses); each grain layout in sync and async mode. Async needs the sampler and the learner on different device
/// workers, so the async layouts give the heavy silo two CPU workers of one libtorch thread each (and, for a fair
/// ratio, the same layout is also timed in sync mode). Figures: mean seconds per GRPO step (the controller's wall
/// time for generate + score + reference + update + publish), and ratios.
/// </summary>
public static class PipelineBench
{
    internal const string ModelConfigJson = """
        {"model_type": "llama", "hidden_size": 128, "intermediate_size": 384, "num_hidden_layers": 4,
         "num_attention_heads": 4, "num_key_value_heads": 4, "max_position_embeddings": 64,
         "rope_theta": 10000, "tie_word_embeddings": true, "rms_norm_eps": 1e-5}
        """;

    public static void Run(BenchOptions options)
    {
        int steps = options.Quick ? 3 : 30;
        var config = Config(steps);

        // The first torch work of the process pays for libtorch's start-up; the grain layouts run after it, so the
        // baseline is timed on a warm process too.
        InProcess(config with { Grpo = config.Grpo with { Steps = 2 } });
        var (inProcess, inProcessUpdate) = InProcess(config);
        JsonLine.Write("pipeline", ("layout", "in-process"), ("mode", "sync"), ("steps", steps), ("step_s", inProcess),
            ("update_s", inProcessUpdate));

        double? Layout(string name, int silos, GrpoMode mode, int cpuWorkers, int threads)
        {
            var run = config with
            {
                Name = $"bench-{name}-{mode}-{Guid.NewGuid():N}"[..40],
                Grpo = config.Grpo with { Mode = mode, MaxStaleness = mode == GrpoMode.Async ? 1 : 0 },
                OutputDir = Path.Combine(Path.GetTempPath(), "rlhf-bench", Guid.NewGuid().ToString("N")),
            };
            try
            {
                var stats = RunGrainsAsync(run, silos, cpuWorkers, threads).GetAwaiter().GetResult();
                double perStep = stats.StepSeconds / stats.Steps;
                JsonLine.Write("pipeline", ("layout", name), ("mode", mode.Yaml()), ("silos", silos), ("cpu_workers", cpuWorkers),
                    ("threads_per_worker", threads), ("steps", stats.Steps), ("step_s", perStep),
                    ("generation_s", stats.GenerationSeconds / stats.Steps), ("update_s", stats.UpdateSeconds / stats.Steps),
                    ("vs_in_process", perStep / inProcess), ("max_staleness_trained", stats.MaxTrainedStaleness),
                    ("stale_rollouts", stats.StaleRollouts), ("dropped_rollouts", stats.DroppedRollouts));
                return perStep;
            }
            finally
            {
                if (Directory.Exists(run.OutputDir)) Directory.Delete(run.OutputDir, recursive: true);
            }
        }

        var sync1 = Layout("1-silo", 1, GrpoMode.Sync, 1, 0);
        var sync2 = Layout("2-silos", 2, GrpoMode.Sync, 1, 0);
        var syncSplit1 = Layout("1-silo-2-workers", 1, GrpoMode.Sync, 2, 1);
        var async1 = Layout("1-silo-2-workers", 1, GrpoMode.Async, 2, 1);
        var syncSplit2 = Layout("2-silos-2-workers", 2, GrpoMode.Sync, 2, 1);
        var async2 = Layout("2-silos-2-workers", 2, GrpoMode.Async, 2, 1);

        JsonLine.Write("pipeline-ratios",
            ("grains_1_silo_vs_in_process", sync1!.Value / inProcess),
            ("grains_2_silos_vs_in_process", sync2!.Value / inProcess),
            ("async_vs_sync_same_workers_1_silo", async1!.Value / syncSplit1!.Value),
            ("async_vs_sync_same_workers_2_silos", async2!.Value / syncSplit2!.Value),
            ("async_vs_default_sync_1_silo", async1.Value / sync1.Value),
            ("async_vs_in_process", async1.Value / inProcess));
    }

    internal static ExperimentConfig Config(int steps) => new()
    {
        Name = "bench-pipeline",
        Algorithm = Algorithm.Grpo,
        Seed = 1,
        Model = new ModelSection { Init = ModelSection.Scratch, DType = ModelDType.Fp32, Tokenizer = "char", ConfigJson = ModelConfigJson },
        Data = new DataSection
        {
            Task = "addition",
            TaskParameters = ImmutableSortedDictionary<string, int>.Empty.Add("digits", 3),
            TrainExamples = 5000,
            EvalExamples = 10,
        },
        Sft = new SftSection { Steps = 0 },
        Grpo = new GrpoSection
        {
            Steps = steps,
            PromptsPerStep = 32,
            NumGenerations = 8,
            LearningRate = 1e-4,
            Beta = 0.04,
            MaxCompletionLength = 5,
        },
        Eval = new EvalSection { Every = 0, MaxNewTokens = 5 },
    };

    /// <summary>Mean seconds per step (and per update) of the config run in-process, as the grains run it.</summary>
    internal static (double Step, double Update) InProcess(ExperimentConfig config)
    {
        JsonLine.Progress("pipeline: in-process loop");
        using var run = InProcessGrpo.Create(config);
        var clock = Stopwatch.StartNew();
        double update = 0;
        for (int i = 0; i < config.Grpo.Steps; i++) update += run.Step().Seconds;
        return (clock.Elapsed.TotalSeconds / config.Grpo.Steps, update / config.Grpo.Steps);
    }

    static async Task<GrpoStats> RunGrainsAsync(ExperimentConfig config, int silos, int cpuWorkers, int threads)
    {
        JsonLine.Progress($"pipeline: {config.Name}");
        var builder = new InProcessTestClusterBuilder((short)silos);
        var configured = 0;
        builder.ConfigureSilo((_, silo) =>
        {
            // With two silos the second advertises an accelerator (compute stays on the CPU): heavy grains go there,
            // the control plane to the first.
            bool heavy = silos == 1 || Interlocked.Increment(ref configured) > 1;
            silo.AddRlhfRuntime(new SiloHardwareOptions
            {
                Accelerator = silos > 1 && heavy ? "cuda" : SiloHardwareOptions.NoAccelerator,
                DeviceCount = silos > 1 && heavy ? 1 : 0,
                ComputeOnCpu = silos > 1 && heavy,
                CpuWorkers = heavy ? cpuWorkers : 1,
                CpuThreadsPerWorker = heavy ? threads : 0,
            });
        });
        builder.ConfigureClient(client => client.AddRlhfClientLimits());
        await using var cluster = builder.Build();
        await cluster.DeployAsync();
        if (silos > 1) await WaitForMetadataAsync(cluster);
        try
        {
            return await RunToEndAsync(cluster.Client, config);
        }
        finally
        {
            await cluster.StopAllSilosAsync();
        }
    }

    /// <summary>Starts the experiment through <paramref name="client"/> and polls it to the end; its GRPO figures.</summary>
    internal static async Task<GrpoStats> RunToEndAsync(IClusterClient client, ExperimentConfig config)
    {
        var grain = client.GetGrain<IExperimentGrain>(config.Name);
        await grain.Start(config);
        ExperimentStatus status;
        do
        {
            await Task.Delay(200);
            status = await grain.GetStatus();
        } while (!status.IsFinished);
        if (status.State != ExperimentState.Completed) throw new InvalidOperationException($"{config.Name} {status.State}: {status.Error}");
        return status.Grpo!;
    }

    static async Task WaitForMetadataAsync(InProcessTestCluster cluster)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (!cluster.Silos.All(placing => cluster.Silos.All(other =>
                   placing.ServiceProvider.GetRequiredService<ISiloMetadataCache>().GetSiloMetadata(other.SiloAddress)
                       .Metadata.ContainsKey(HardwareMetadata.Accelerator))))
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("silo metadata did not reach every silo");
            await Task.Delay(50);
        }
    }
}
