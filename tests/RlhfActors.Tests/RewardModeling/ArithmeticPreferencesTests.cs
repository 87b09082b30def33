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
    public void Rejected_is_the_carry_dropped_sum_a_digit_moved_by_one_or_another_prompts_answer()
    {
        var answers = Sums.Select(e => e.Completion).ToHashSet();
        int carry = 0, digit = 0, other = 0;
        foreach (var pair in ArithmeticPreferences.Build(Sums, seed: 1))
        {
            if (pair.Rejected == CarryDroppingTeacher.SumWithoutCarries(pair.Prompt)) carry++;
            else if (pair.Rejected.Length == pair.Chosen.Length && pair.Rejected.Zip(pair.Chosen).Count(c => c.First != c.Second) == 1
                     && pair.Rejected.Zip(pair.Chosen).All(c => Math.Abs(c.First - c.Second) <= 1)) digit++;
            else
            {
                Assert.Contains(pair.Rejected, answers);
                other++;
            }
        }
        // Drawn uniformly; a sum without carries (no carry-dropped mistake) takes a digit moved by one instead.
        Assert.InRange(carry, 100, 200);
        Assert.InRange(digit, 150, 250);
        Assert.InRange(other, 120, 220);
    }

    [Fact]
    public void The_size_of_the_answer_does_not_tell_chosen_from_rejected()
    {
        // Carry drops alone are always smaller than the sum: a reward model learns "bigger wins", and PPO exploits it.
        var pairs = ArithmeticPreferences.Build(Sums, seed: 2);
        double biggerRejected = pairs.Count(p => long.Parse(p.Rejected) > long.Parse(p.Chosen)) / (double)pairs.Count;
        Assert.InRange(biggerRejected, 0.3, 0.6);
    }

    [Fact]
    public void Without_another_answer_or_a_carry_a_digit_moves_by_one()
    {
        foreach (var seed in Enumerable.Range(0, 20))
        {
            var pairs = ArithmeticPreferences.Build([new("5+4=", "9"), new("3+6=", "9")], seed);
            Assert.All(pairs, p => Assert.Equal("8", p.Rejected)); // 9 + 1 is not a digit
        }
        var alone = Enumerable.Range(0, 40).Select(seed => ArithmeticPreferences.Build([new("58+67=", "125")], seed).Single().Rejected).ToHashSet();
        Assert.Subset(new HashSet<string> { "15", "225", "115", "135", "124", "126" }, alone);
        Assert.Contains("15", alone);
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
