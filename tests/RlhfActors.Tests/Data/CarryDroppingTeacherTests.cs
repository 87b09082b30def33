using RlhfActors.Training.Data;
using RlhfActors.Training.Tasks;

namespace RlhfActors.Tests.Data;

public sealed class CarryDroppingTeacherTests
{
    [Theory]
    [InlineData("58+67=", "15")]
    [InlineData("123+45=", "168")]
    [InlineData("5+5=", "0")]
    [InlineData("999+1=", "990")]
    [InlineData("0+0=", "0")]
    public void Sum_without_carries_adds_each_digit_mod_ten(string prompt, string expected) =>
        Assert.Equal(expected, CarryDroppingTeacher.SumWithoutCarries(prompt));

    [Fact]
    public void Corrupt_changes_only_carrying_sums_about_the_given_fraction_of_the_time_and_is_deterministic()
    {
        var rng = new Random(3);
        var task = new AdditionTask(2);
        var examples = Enumerable.Range(0, 4000).Select(_ => task.Generate(rng)).ToList();
        var flawed = CarryDroppingTeacher.Corrupt(examples, 0.6, 11);
        Assert.Equal(flawed, CarryDroppingTeacher.Corrupt(examples, 0.6, 11));
        Assert.Equal(examples, CarryDroppingTeacher.Corrupt(examples, 0, 11));

        int carrying = 0, changed = 0;
        for (int i = 0; i < examples.Count; i++)
        {
            Assert.Equal(examples[i].Prompt, flawed[i].Prompt);
            bool carries = CarryDroppingTeacher.SumWithoutCarries(examples[i].Prompt) != examples[i].Completion;
            if (carries) carrying++;
            if (flawed[i].Completion != examples[i].Completion)
            {
                Assert.True(carries);
                Assert.Equal(CarryDroppingTeacher.SumWithoutCarries(examples[i].Prompt), flawed[i].Completion);
                changed++;
            }
        }
        Assert.InRange(changed / (double)carrying, 0.55, 0.65);
    }

    [Fact]
    public void Rejects_bad_input()
    {
        Assert.Throws<ArgumentException>(() => CarryDroppingTeacher.SumWithoutCarries("abc|"));
        Assert.Throws<ArgumentOutOfRangeException>(() => CarryDroppingTeacher.Corrupt([], 1.5, 1));
    }
}
