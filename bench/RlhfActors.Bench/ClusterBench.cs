using Microsoft.Extensions.Logging;
using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Experiments;
using RlhfActors.Client.Connection;
using RlhfActors.Silo.Hosting;

namespace RlhfActors.Bench;

/// <summary>
/// The real cost of process boundaries: one GRPO config (PipelineBench's: 3-digit addition, the demo's decoder,
/// 32 prompts × 8 completions, β = 0.04) timed per step as
/// <list type="bullet">
/// <item>the in-process loop (<c>InProcessGrpo</c>: the math alone);</item>
/// <item>the embedded silo (<c>rlhf run</c>'s default: grains in this process, memory storage);</item>
/// <item>a Redis cluster of two <c>rlhf silo</c> processes started by deploy/local/cluster.sh (learner, samplers and
/// reference on the silo advertising an accelerator, controller, policy registry and reward on the other; Redis
/// membership and grain state), submitted to through <c>--cluster redis://</c>.</item>
/// </list>
/// The three alternate (A B C, A B C, …) after one warm-up each, so machine noise hits them alike; the figures are
/// medians with the min and max, and the ratios of medians. Each grain figure splits into generation, update and the
/// rest (scoring, reference log-probs, weight publication, messages, state writes).
/// </summary>
public static class ClusterBench
{
    public static void Run(BenchOptions options) => RunAsync(options).GetAwaiter().GetResult();

    static async Task RunAsync(BenchOptions options)
    {
        int steps = options.Quick ? 3 : 20;
        int rounds = options.Quick ? 1 : 5;
        var config = PipelineBench.Config(steps);

        var dir = Path.Combine(Path.GetTempPath(), "rlhf-bench-cluster", Guid.NewGuid().ToString("N"));
        JsonLine.Progress("cluster: starting redis-server and two silo processes (deploy/local/cluster.sh)");
        var url = await LocalCluster.StartAsync(dir, silos: 2, accelerators: 1);
        try
        {
            var endpoint = ClusterEndpoint.TryParse(url, out var error) ?? throw new InvalidOperationException(error);
            await using var connection = await ClusterConnection.ConnectAsync(endpoint);

            // Warm-up: libtorch start-up in this process, JIT in the silos.
            var warm = config with { Grpo = config.Grpo with { Steps = 2 } };
            PipelineBench.InProcess(warm);
            await EmbeddedAsync(Named(warm, "warm-embedded"));
            await GrainsAsync(connection.Client, Named(warm, "warm-cluster"));

            var samples = new Dictionary<string, List<Sample>> { ["in-process"] = [], ["embedded"] = [], ["cluster-2-processes"] = [] };
            for (int round = 0; round < rounds; round++)
            {
                var (step, update) = PipelineBench.InProcess(config);
                samples["in-process"].Add(new Sample(step, double.NaN, update));
                samples["embedded"].Add(Sample.Of(await EmbeddedAsync(Named(config, $"embedded-{round}"))));
                samples["cluster-2-processes"].Add(Sample.Of(await GrainsAsync(connection.Client, Named(config, $"cluster-{round}"))));
            }

            double Median(string layout, Func<Sample, double> pick) => Timing.Median([.. samples[layout].Select(pick)]);
            foreach (var (layout, list) in samples)
            {
                var step = list.Select(s => s.Step).ToList();
                JsonLine.Write("cluster", ("layout", layout), ("steps", steps), ("rounds", rounds),
                    ("step_s_median", Timing.Median(step)), ("step_s_min", step.Min()), ("step_s_max", step.Max()),
                    ("generation_s_median", layout == "in-process" ? -1.0 : Median(layout, s => s.Generation)),
                    ("update_s_median", Median(layout, s => s.Update)),
                    ("other_s_median", layout == "in-process" ? -1.0 : Median(layout, s => s.Step - s.Generation - s.Update)));
            }
            var inProcess = Median("in-process", s => s.Step);
            var embedded = Median("embedded", s => s.Step);
            var cluster = Median("cluster-2-processes", s => s.Step);
            JsonLine.Write("cluster-ratios", ("embedded_vs_in_process", embedded / inProcess),
                ("cluster_vs_in_process", cluster / inProcess), ("cluster_vs_embedded", cluster / embedded));
        }
        finally
        {
            await LocalCluster.StopAsync(dir);
        }
    }

    sealed record Sample(double Step, double Generation, double Update)
    {
        public static Sample Of(GrpoStats s) => new(s.StepSeconds / s.Steps, s.GenerationSeconds / s.Steps, s.UpdateSeconds / s.Steps);
    }

    static ExperimentConfig Named(ExperimentConfig config, string name) => config with
    {
        Name = $"bench-{name}-{Guid.NewGuid():N}"[..36],
        OutputDir = Path.Combine(Path.GetTempPath(), "rlhf-bench", Guid.NewGuid().ToString("N")),
    };

    static async Task<GrpoStats> EmbeddedAsync(ExperimentConfig config)
    {
        JsonLine.Progress($"cluster: {config.Name}");
        await using var silo = await EmbeddedSilo.StartAsync(TextWriter.Null, LogLevel.Warning);
        return await GrainsAsync(silo.Client, config, progress: false);
    }

    static async Task<GrpoStats> GrainsAsync(IClusterClient client, ExperimentConfig config, bool progress = true)
    {
        if (progress) JsonLine.Progress($"cluster: {config.Name}");
        try
        {
            return await PipelineBench.RunToEndAsync(client, config);
        }
        finally
        {
            if (Directory.Exists(config.OutputDir)) Directory.Delete(config.OutputDir, recursive: true);
        }
    }
}
