using RlhfActors.Training.Rewards;

namespace RlhfActors.Tests.Rewards;

public sealed class FormatRewardTests
{
    static async Task<double> Score(FormatReward reward, string prompt, string completion) =>
        (await reward.ScoreAsync([new RewardRequest(prompt, completion, null)], CancellationToken.None)).Single();

    [Theory]
    [InlineData("12+30=", "42", 1.0)]
    [InlineData("12+30=", "41", 1.0)] // wrong but well-formed: format does not check correctness
    [InlineData("12+30=", " 1234\n", 1.0)]
    [InlineData("12+30=", "4a", 0.0)]
    [InlineData("12+30=", "-42", 0.0)]
    [InlineData("12+30=", "4 2", 0.0)]
    [InlineData("12+30=", "", 0.0)]
    [InlineData("12+30=", "٤٢", 0.0)] // Arabic-Indic digits: \d would accept them
    public async Task Addition_answers_are_ascii_digits_only(string prompt, string completion, double expected) =>
        Assert.Equal(expected, await Score(FormatReward.ForTask("addition"), prompt, completion));

    [Theory]
    [InlineData("reverse", "abc|", "cba", 1.0)]
    [InlineData("reverse", "abc|", "xyz", 1.0)]
    [InlineData("reverse", "abc|", "cba\n", 1.0)]
    [InlineData("reverse", "abc|", "cb", 0.0)]
    [InlineData("reverse", "abc|", "cbaa", 0.0)]
    [InlineData("reverse", "abc|", "CBA", 0.0)]
    [InlineData("reverse", "abc|", "c1a", 0.0)]
    [InlineData("sort", "dbca>", "abcd", 1.0)]
    [InlineData("sort", "dbca>", "abc", 0.0)]
    [InlineData("sort", "dbca>", "ab d", 0.0)]
    [InlineData("sort", "z>", "z", 1.0)]
    [InlineData("Sort", "z>", "zz", 0.0)]
    public async Task Word_task_answers_are_lower_case_words_of_the_prompts_length(string task, string prompt, string completion, double expected) =>
        Assert.Equal(expected, await Score(FormatReward.ForTask(task), prompt, completion));

    [Fact]
    public void An_unknown_task_lists_the_known_ones()
    {
        var e = Assert.Throws<ArgumentException>(() => FormatReward.ForTask("multiply"));
        Assert.Contains("'multiply'", e.Message);
        Assert.Contains("addition, reverse, sort", e.Message);
    }

    [Fact]
    public async Task A_word_task_prompt_without_a_word_is_an_error() =>
        await Assert.ThrowsAsync<ArgumentException>(() => Score(FormatReward.ForTask("reverse"), "123|", "abc"));

    [Theory]
    [InlineData("[0-9]+", "12", 1.0)]
    [InlineData("[0-9]+", "a12", 0.0)] // anchored: the whole completion must match
    [InlineData("[0-9]+", "12a", 0.0)]
    [InlineData("<answer>.*</answer>", "<answer>7</answer>\n", 1.0)]
    [InlineData("yes|no", "no", 1.0)]
    [InlineData("yes|no", "nope", 0.0)] // the alternation is grouped before anchoring
    public async Task A_config_pattern_must_match_the_whole_trimmed_completion(string pattern, string completion, double expected) =>
        Assert.Equal(expected, await Score(FormatReward.FromPattern(pattern), "q", completion));

    [Fact]
    public void An_invalid_pattern_is_an_error_naming_it()
    {
        var e = Assert.Throws<ArgumentException>(() => FormatReward.FromPattern("([0-9]"));
        Assert.Contains("'([0-9]'", e.Message);
    }
}
