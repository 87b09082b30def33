namespace RlhfActors.Training.Rewards;

/// <summary>One weighted term of a <see cref="CompositeReward"/>.</summary>
public sealed record WeightedReward(IRewardFunction Reward, double Weight);

/// <summary>Each component's raw scores and the weighted total, so metrics can log every term
/// (a rising total from format alone looks very different from one driven by correctness).</summary>
public sealed record RewardBreakdown(IReadOnlyList<string> Names, IReadOnlyList<double[]> Components, double[] Total);

/// <summary>Σ w_i · r_i over named rewards. Weights may be negative (penalties) or zero (a component logged but not
/// trained on); they must be finite. The composite owns its components: disposing it disposes those that are
/// <see cref="IDisposable"/> (an <see cref="HttpReward"/>'s client).</summary>
public sealed class CompositeReward : IRewardFunction, IDisposable
{
    public const string RewardName = "composite";

    public CompositeReward(IReadOnlyList<WeightedReward> components)
    {
        ArgumentNullException.ThrowIfNull(components);
        if (components.Count == 0) throw new ArgumentException("a composite reward needs at least one component", nameof(components));
        for (int i = 0; i < components.Count; i++)
        {
            var component = components[i] ?? throw new ArgumentException($"component {i} is null", nameof(components));
            ArgumentNullException.ThrowIfNull(component.Reward, $"{nameof(components)}[{i}].{nameof(WeightedReward.Reward)}");
            if (!double.IsFinite(component.Weight))
                throw new ArgumentException($"component {i} ('{component.Reward.Name}') has weight {component.Weight}; weights must be finite", nameof(components));
        }
        Components = components.ToArray();
    }

    public IReadOnlyList<WeightedReward> Components { get; }

    public string Name => RewardName;

    public async Task<double[]> ScoreAsync(IReadOnlyList<RewardRequest> batch, CancellationToken ct) =>
        (await ScoreComponentsAsync(batch, ct).ConfigureAwait(false)).Total;

    /// <summary>Scores with every component (concurrently: a remote one should not wait on the others) and sums.</summary>
    public async Task<RewardBreakdown> ScoreComponentsAsync(IReadOnlyList<RewardRequest> batch, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var scores = await Task.WhenAll(Components.Select(c => c.Reward.ScoreAsync(batch, ct))).ConfigureAwait(false);
        var total = new double[batch.Count];
        for (int c = 0; c < Components.Count; c++)
        {
            var component = Components[c];
            if (scores[c].Length != batch.Count)
                throw new InvalidDataException($"reward '{component.Reward.Name}' returned {scores[c].Length} scores for a batch of {batch.Count}");
            for (int i = 0; i < total.Length; i++)
            {
                if (!double.IsFinite(scores[c][i]))
                    throw new InvalidDataException($"reward '{component.Reward.Name}' returned {scores[c][i]} for batch[{i}]; scores must be finite");
                total[i] += component.Weight * scores[c][i];
            }
        }
        return new RewardBreakdown(Components.Select(c => c.Reward.Name).ToArray(), scores, total);
    }

    public void Dispose()
    {
        foreach (var component in Components)
            (component.Reward as IDisposable)?.Dispose();
    }
}
