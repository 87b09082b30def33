using RlhfActors.Training.Rewards;

namespace RlhfActors.Tests.Rewards;

public sealed class ExactMatchRewardTests
{
    [Theory]
    [InlineData("42", "42", 1.0)]
    [InlineData("  42\n", "42", 1.0)]
    [InlineData("42", " 42 \n", 1.0)]
    [InlineData("43", "42", 0.0)]
    [InlineData("042", "42", 0.0)]
    [InlineData("4 2", "42", 0.0)]
    [InlineData("", "42", 0.0)]
    [InlineData("paris", "Paris", 0.0)]
    public async Task Scores_one_for_the_trimmed_reference_and_zero_otherwise(string completion, string reference, double expected)
    {
        var scores = await ExactMatchReward.Instance.ScoreAsync([new RewardRequest("q", completion, reference)], CancellationToken.None);
        Assert.Equal([expected], scores);
    }

    [Fact]
    public async Task Scores_a_batch_in_order()
    {
        var scores = await ExactMatchReward.Instance.ScoreAsync(
            [new("1+1=", "2", "2"), new("1+2=", "4", "3"), new("abc|", "cba\n", "cba")], CancellationToken.None);
        Assert.Equal([1.0, 0.0, 1.0], scores);
        Assert.Equal("exact_match", ExactMatchReward.Instance.Name);
    }

    [Fact]
    public async Task A_missing_reference_is_an_error_naming_the_field_not_a_zero()
    {
        var e = await Assert.ThrowsAsync<ArgumentException>(() =>
            ExactMatchReward.Instance.ScoreAsync([new("1+1=", "2", "2"), new("5+5=", "10", null)], CancellationToken.None));
        Assert.Contains("batch[1]", e.Message);
        Assert.Contains("Reference", e.Message);
    }
}
