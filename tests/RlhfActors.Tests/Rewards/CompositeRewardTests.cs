using RlhfActors.Training.Rewards;

namespace RlhfActors.Tests.Rewards;

public sealed class CompositeRewardTests
{
    static readonly RewardRequest[] Addition =
    [
        new("12+30=", "42", "42"),     // right: 1.0·1 + 0.2·1
        new("12+30=", "43", "42"),     // wrong but well-formed: 0.2
        new("12+30=", "forty", "42"),  // neither: 0
        new("12+30=", " 42\n", "42"),  // right after trimming: 1.2
    ];

    [Fact]
    public async Task The_total_is_the_weighted_sum_of_the_components()
    {
        using var reward = RewardRegistry.Create(
            new RewardSpec(new RewardComponentSpec("exact_match", 1.0), new RewardComponentSpec("format", 0.2)), "addition");
        var scores = await reward.ScoreAsync(Addition, CancellationToken.None);
        Assert.Equal(4, scores.Length);
        double[] expected = [1.2, 0.2, 0.0, 1.2];
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], scores[i], 12);
    }

    [Fact]
    public async Task The_breakdown_keeps_each_components_raw_scores()
    {
        using var reward = new CompositeReward([new(ExactMatchReward.Instance, 1.0), new(FormatReward.ForTask("addition"), -0.5)]);
        var breakdown = await reward.ScoreComponentsAsync(Addition, CancellationToken.None);
        Assert.Equal(new[] { "exact_match", "format" }, breakdown.Names);
        Assert.Equal(new[] { 1.0, 0.0, 0.0, 1.0 }, breakdown.Components[0]);
        Assert.Equal(new[] { 1.0, 1.0, 0.0, 1.0 }, breakdown.Components[1]);
        Assert.Equal(new[] { 0.5, -0.5, 0.0, 0.5 }, breakdown.Total);
    }

    [Fact]
    public async Task A_component_returning_the_wrong_number_of_scores_is_named()
    {
        using var reward = new CompositeReward([new(new FixedReward([1.0]), 1.0)]);
        var e = await Assert.ThrowsAsync<InvalidDataException>(() => reward.ScoreAsync(Addition, CancellationToken.None));
        Assert.Contains("'fixed'", e.Message);
        Assert.Contains("1 scores for a batch of 4", e.Message);
    }

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void Weights_must_be_finite(double weight)
    {
        var e = Assert.Throws<ArgumentException>(() => new CompositeReward([new(ExactMatchReward.Instance, weight)]));
        Assert.Contains("finite", e.Message);
    }

    [Fact]
    public void At_least_one_component_is_needed() =>
        Assert.Throws<ArgumentException>(() => new CompositeReward([]));

    sealed class FixedReward(double[] scores) : IRewardFunction
    {
        public string Name => "fixed";
        public Task<double[]> ScoreAsync(IReadOnlyList<RewardRequest> batch, CancellationToken ct) => Task.FromResult(scores);
    }
}
