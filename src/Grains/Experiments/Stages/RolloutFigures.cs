using RlhfActors.Abstractions.Rollouts;
using RlhfActors.Training.Metrics;

namespace RlhfActors.Grains.Experiments.Stages;

/// <summary>The figures of one step's rollouts that the controller computes from the batch it already holds (no
/// extra call to a worker): reward mean and spread, completion length, behaviour entropy, sync time.</summary>
public static class RolloutFigures
{
    public static Dictionary<string, double> Of(RolloutBatchMessage rollouts, IReadOnlyList<double> rewards)
    {
        var figures = new Dictionary<string, double>(StringComparer.Ordinal)
        {
            [MetricNames.Reward] = rewards.Count > 0 ? rewards.Average() : double.NaN,
            [MetricNames.RewardStd] = Std(rewards),
            [MetricNames.CompletionLength] = rollouts.Count > 0 ? rollouts.CompletionIds.Average(c => c.Length) : double.NaN,
            [MetricNames.Entropy] = Entropy(rollouts),
            [MetricNames.SyncSeconds] = rollouts.SyncSeconds,
        };
        return figures;
    }

    /// <summary>The sample standard deviation (n − 1), as torch.std and TRL's reward_std; NaN below two values.</summary>
    public static double Std(IReadOnlyList<double> values)
    {
        if (values.Count < 2) return double.NaN;
        var mean = values.Average();
        return Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1));
    }

    /// <summary>H ≈ −mean log π_behaviour(y_t) over every sampled completion token: the Monte-Carlo estimate of the
    /// sampling distribution's per-token entropy (E_y~π[−log π(y)]), unbiased, from the log-probs the samplers already
    /// return. TRL computes the exact entropy from the learner's logits; this needs no extra forward pass.</summary>
    public static double Entropy(RolloutBatchMessage rollouts)
    {
        double sum = 0;
        long tokens = 0;
        foreach (var row in rollouts.BehaviourLogProbs)
        {
            foreach (var logProb in row) sum -= logProb;
            tokens += row.Length;
        }
        return tokens > 0 ? sum / tokens : double.NaN;
    }
}
