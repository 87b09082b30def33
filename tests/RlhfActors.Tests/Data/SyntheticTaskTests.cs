using RlhfActors.Training.Data;
using RlhfActors.Training.Tasks;
using RlhfActors.Training.Tokenization;

namespace RlhfActors.Tests.Data;

public sealed class SyntheticTaskTests
{
    static List<PromptCompletion> Sample(ISyntheticTask task, int count = 500, int seed = 7)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => task.Generate(rng)).ToList();
    }

    [Theory]
    [InlineData("addition")]
    [InlineData("reverse")]
    [InlineData("sort")]
    public void Generated_answers_are_correct_and_altered_ones_are_not(string name)
    {
        var task = SyntheticTasks.Create(name, new Dictionary<string, int>());
        Assert.Equal(name, task.Name);
        foreach (var example in Sample(task))
        {
            Assert.True(task.IsCorrect(example, example.Completion));
            Assert.True(task.IsCorrect(example, " " + example.Completion + "\n"));
            Assert.False(task.IsCorrect(example, example.Completion + "0"));
            Assert.False(task.IsCorrect(example, example.Completion[..^1]));
            Assert.False(task.IsCorrect(example, ""));
            // Every character must have an id in the character tokenizer.
            CharTokenizer.Instance.Encode(example.Prompt + example.Completion);
        }
    }

    [Fact]
    public void Addition_completion_is_the_plain_sum_of_the_prompt()
    {
        foreach (var example in Sample(new AdditionTask(6)))
        {
            Assert.EndsWith("=", example.Prompt);
            var operands = example.Prompt.TrimEnd('=').Split('+').Select(long.Parse).ToArray();
            Assert.Equal(2, operands.Length);
            Assert.Equal((operands[0] + operands[1]).ToString(), example.Completion);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(12)]
    public void Addition_operands_cover_every_length_up_to_digits(int digits)
    {
        var task = SyntheticTasks.Create("addition", new Dictionary<string, int> { ["digits"] = digits });
        var lengths = Sample(task, 2000)
            .SelectMany(e => e.Prompt.TrimEnd('=').Split('+'))
            .Select(operand => operand.Length)
            .ToHashSet();
        Assert.Equal(Enumerable.Range(1, digits).ToHashSet(), lengths);
    }

    [Fact]
    public void Reverse_reverses_words_of_length_one_to_length()
    {
        var examples = Sample(new ReverseTask(4));
        foreach (var example in examples)
        {
            Assert.EndsWith("|", example.Prompt);
            var word = example.Prompt[..^1];
            Assert.All(word, c => Assert.InRange(c, 'a', 'z'));
            Assert.Equal(new string(word.Reverse().ToArray()), example.Completion);
        }
        Assert.Equal(new HashSet<int> { 1, 2, 3, 4 }, examples.Select(e => e.Completion.Length).ToHashSet());
    }

    [Fact]
    public void Sort_sorts_the_letters_and_keeps_repeats()
    {
        var examples = Sample(new SortTask(8));
        foreach (var example in examples)
        {
            Assert.EndsWith(">", example.Prompt);
            var word = example.Prompt[..^1];
            Assert.Equal(new string(word.Order().ToArray()), example.Completion);
        }
        Assert.Equal(8, examples.Max(e => e.Completion.Length));
        Assert.Contains(examples, e => e.Completion.Distinct().Count() < e.Completion.Length);
    }

    [Fact]
    public void Parameters_default_and_names_are_case_insensitive()
    {
        Assert.Equal(3, Assert.IsType<AdditionTask>(SyntheticTasks.Create("addition", new Dictionary<string, int>())).Digits);
        Assert.Equal(6, Assert.IsType<ReverseTask>(SyntheticTasks.Create("reverse")).Length);
        Assert.Equal(9, Assert.IsType<SortTask>(SyntheticTasks.Create("Sort", new Dictionary<string, int> { ["LENGTH"] = 9 })).Length);
    }

    [Fact]
    public void Unknown_task_is_an_error_listing_the_valid_ones()
    {
        var error = Assert.Throws<ArgumentException>(() => SyntheticTasks.Create("multiply", new Dictionary<string, int>()));
        Assert.Contains("'multiply'", error.Message);
        Assert.Contains("addition, reverse, sort", error.Message);
    }

    [Fact]
    public void Unknown_parameter_is_an_error_listing_the_valid_ones()
    {
        var error = Assert.Throws<ArgumentException>(() => SyntheticTasks.Create("addition", new Dictionary<string, int> { ["length"] = 3 }));
        Assert.Contains("'length'", error.Message);
        Assert.Contains("digits", error.Message);
    }

    [Theory]
    [InlineData("addition", "digits", 0, "1..12")]
    [InlineData("addition", "digits", 13, "1..12")]
    [InlineData("reverse", "length", 33, "1..32")]
    [InlineData("sort", "length", -1, "1..32")]
    public void Out_of_range_parameter_is_an_error_naming_it_and_its_range(string task, string parameter, int value, string range)
    {
        var error = Assert.Throws<ArgumentException>(() => SyntheticTasks.Create(task, new Dictionary<string, int> { [parameter] = value }));
        Assert.Contains($"'{parameter}'", error.Message);
        Assert.Contains(range, error.Message);
    }
}
