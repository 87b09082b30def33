using RlhfActors.Training.Data;
using RlhfActors.Training.RewardModeling;
using RlhfActors.Training.Tasks;

namespace RlhfActors.Tests.RewardModeling;

public sealed class ArithmeticPreferencesTests
{
    static readonly IReadOnlyList<PromptCompletion> Sums = TaskSplit.Build(new AdditionTask(3), seed: 5, trainCount: 500, evalCount: 0).Train;

    [Fact]
    public void Chosen_is_the_exact_sum_and_rejected_is_a_wrong_number_without_leading_zero()
    {
        foreach (var pair in ArithmeticPreferences.Build(Sums, seed: 1))
        {
            var operands = pair.Prompt.TrimEnd('=').Split('+').Select(long.Parse).ToArray();
            Assert.Equal((operands[0] + operands[1]).ToString(), pair.Chosen);
            Assert.NotEqual(pair.Chosen, pair.Rejected);
            Assert.True(pair.Rejected.All(char.IsAsciiDigit) && (pair.Rejected.Length == 1 || pair.Rejected[0] != '0'), pair.Rejected);
        }
    }

    [Fact]
    public void The_carry_dropped_sum_is_used_when_it_differs_otherwise_one_digit_moves_by_one()
    {
        var pairs = ArithmeticPreferences.Build([new("58+67=", "125"), new("12+34=", "46"), new("5+4=", "9")], seed: 3);
        Assert.Equal("15", pairs[0].Rejected);
        Assert.Contains(pairs[1].Rejected, new[] { "36", "56", "45", "47" });
        Assert.Contains(pairs[2].Rejected, new[] { "8" }); // 9 + 1 is not a digit
    }

    [Fact]
    public void Pairs_are_deterministic_per_seed()
    {
        Assert.Equal(ArithmeticPreferences.Build(Sums, seed: 4), ArithmeticPreferences.Build(Sums, seed: 4));
        Assert.NotEqual(ArithmeticPreferences.Build(Sums, seed: 4), ArithmeticPreferences.Build(Sums, seed: 5));
    }

    [Fact]
    public void Other_tasks_get_one_character_replaced_from_the_completion_alphabet()
    {
        var reverse = TaskSplit.Build(new ReverseTask(4), seed: 2, trainCount: 200, evalCount: 0).Train;
        var alphabet = reverse.SelectMany(e => e.Completion).ToHashSet();
        foreach (var pair in ArithmeticPreferences.Build(reverse, seed: 1))
        {
            Assert.Equal(pair.Chosen.Length, pair.Rejected.Length);
            Assert.Equal(1, pair.Chosen.Zip(pair.Rejected).Count(c => c.First != c.Second));
            Assert.All(pair.Rejected, c => Assert.Contains(c, alphabet));
        }
    }
}
