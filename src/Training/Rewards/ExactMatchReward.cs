namespace RlhfActors.Training.Rewards;

/// <summary>The verifiable reward of the built-in tasks: 1 when the generated completion, trimmed, equals the
/// reference, trimmed (ordinal, case-sensitive), else 0. Trimming forgives a trailing newline or space a model emits
/// before eos, as <see cref="Data.ExactMatchVerifier"/> does for evaluation, so the reward and the eval metric agree.</summary>
public sealed class ExactMatchReward : IRewardFunction
{
    public const string RewardName = "exact_match";

    public static ExactMatchReward Instance { get; } = new();

    public string Name => RewardName;

    public Task<double[]> ScoreAsync(IReadOnlyList<RewardRequest> batch, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var scores = new double[batch.Count];
        for (int i = 0; i < batch.Count; i++)
        {
            var request = batch[i] ?? throw new ArgumentException($"batch[{i}] is null", nameof(batch));
            // A missing reference is a data error, not a wrong answer: scoring it 0 would silently train on noise.
            var reference = request.Reference ?? throw new ArgumentException(
                $"batch[{i}] (prompt '{request.Prompt}') has no Reference; the '{RewardName}' reward needs the dataset's answer", nameof(batch));
            scores[i] = Matches(reference, request.Completion) ? 1.0 : 0.0;
        }
        return Task.FromResult(scores);
    }

    public static bool Matches(string reference, string completion)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(completion);
        return string.Equals(completion.Trim(), reference.Trim(), StringComparison.Ordinal);
    }
}
