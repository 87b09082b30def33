using RlhfActors.Client.Config;
using RlhfActors.Grains.Specs;
using RlhfActors.Training.Weights;
using static TorchSharp.torch;

namespace RlhfActors.Bench;

/// <summary>
/// How much of a policy version delta sync would send (issue 16): the GRPO demo (experiments/grpo-arithmetic.yaml,
/// its warm-up, then GRPO steps, in process), and after every step the new version's elements that changed since the
/// previous one, compared bit for bit in the dtype a sampler holds (bf16, and fp32), encoded by
/// <see cref="WeightDelta"/> (int32 index + value per changed element, a tensor sent whole when that is smaller).
/// Figures: delta bytes as a percentage of a full copy per step, median and range over the steps, at the demo's GRPO
/// learning rate and at TRL's default; veRL's anchor is 1–3%. --quick: a 300-step warm-up and 5 GRPO steps instead of
/// the config's warm-up and 20.
/// </summary>
public static class DeltaBench
{
    public static void Run(BenchOptions options)
    {
        var file = Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "experiments", "grpo-arithmetic.yaml");
        var demo = ExperimentYamlLoader.Load(Path.GetFullPath(file));
        if (options.Quick) demo = demo with { Sft = demo.Sft with { Steps = 300 } };
        // The demo's learning rate (2e-4, a small model's), and TRL's GRPO default (1e-6, an LLM's): how much of a
        // version moves depends on the step size against bf16's 8-bit mantissa.
        foreach (var learningRate in new[] { demo.Grpo.LearningRate, 1e-6 })
            Measure(demo with { Grpo = demo.Grpo with { LearningRate = learningRate } }, options.Quick ? 5 : 20);
    }

    static void Measure(Abstractions.Config.ExperimentConfig config, int steps)
    {
        var lr = config.Grpo.LearningRate.ToString("G3", System.Globalization.CultureInfo.InvariantCulture);
        JsonLine.Progress($"delta: warm-up of {config.Sft.Steps} SFT steps, then {steps} GRPO steps at learning rate {lr}");
        using var run = InProcessGrpo.Create(config);
        var previous = new Dictionary<string, IReadOnlyList<TensorBytes>>
        {
            ["bf16"] = Cast(run.ExportWeights(), ScalarType.BFloat16),
            ["fp32"] = run.ExportWeights(),
        };
        var percents = previous.Keys.ToDictionary(k => k, _ => new List<double>());
        for (var step = 1; step <= steps; step++)
        {
            var metrics = run.Step();
            var weights = run.ExportWeights();
            foreach (var dtype in previous.Keys.ToArray())
            {
                var next = dtype == "bf16" ? Cast(weights, ScalarType.BFloat16) : weights;
                var delta = WeightDelta.Encode(previous[dtype], next);
                var rebuilt = WeightDelta.Apply(previous[dtype], delta);
                if (!rebuilt.Zip(next).All(p => p.First.Data.AsSpan().SequenceEqual(p.Second.Data)))
                    throw new InvalidOperationException($"step {step}: the {dtype} delta did not rebuild the version bit-exactly");
                var (deltaBytes, fullBytes) = WeightDelta.Size(delta, next);
                var percent = 100.0 * deltaBytes / fullBytes;
                percents[dtype].Add(percent);
                JsonLine.Write("delta-step", ("learning_rate", lr), ("step", step), ("dtype", dtype), ("delta_bytes", deltaBytes),
                    ("full_bytes", fullBytes), ("percent_of_full", percent), ("mean_reward", metrics.MeanReward));
                previous[dtype] = next;
            }
        }
        foreach (var (dtype, values) in percents)
            JsonLine.Write("delta", ("learning_rate", lr), ("dtype", dtype), ("steps", values.Count), ("median_percent", Timing.Median(values)),
                ("min_percent", values.Min()), ("max_percent", values.Max()), ("warmup_steps", config.Sft.Steps));
    }

    /// <summary>The weights as a sampler of that dtype holds them: libtorch's own rounding (round to nearest even).</summary>
    static IReadOnlyList<TensorBytes> Cast(IReadOnlyList<TensorBytes> weights, ScalarType type) => weights.Select(w =>
    {
        using var scope = NewDisposeScope();
        return Training.IO.TorchTensors.FromTorch(w.Name, Training.IO.TorchTensors.ToTorch(w).to(type));
    }).ToArray();
}
