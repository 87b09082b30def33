using RlhfActors.Training.Rewards;

namespace RlhfActors.Tests.Rewards;

public sealed class RewardRegistryTests
{
    static RewardComponentSpec Component(string name, double weight, params (string Key, string Value)[] args) =>
        new(name, weight, args.ToDictionary(a => a.Key, a => a.Value));

    static ArgumentException Fails(string? taskName, params RewardComponentSpec[] components) =>
        Assert.Throws<ArgumentException>(() => RewardRegistry.Create(new RewardSpec(components), taskName));

    [Fact]
    public void Builds_the_named_components_with_their_weights_case_insensitively()
    {
        using var reward = RewardRegistry.Create(
            new RewardSpec(Component(" Exact_Match ", 1.0), Component("FORMAT", 0.1, ("Pattern", "[0-9]+"))), taskName: null);
        Assert.Equal(new[] { "exact_match", "format" }, reward.Components.Select(c => c.Reward.Name));
        Assert.Equal(new[] { 1.0, 0.1 }, reward.Components.Select(c => c.Weight));
        Assert.Equal("pattern [0-9]+", ((FormatReward)reward.Components[1].Reward).Shape);
    }

    [Fact]
    public void An_unknown_name_lists_the_known_ones()
    {
        var e = Fails("addition", Component("exact_match", 1), Component("bleu", 1));
        Assert.Contains("'bleu'", e.Message);
        Assert.Contains("exact_match, format, http", e.Message);
    }

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(double.NegativeInfinity)]
    public void A_non_finite_weight_is_refused(double weight) =>
        Assert.Contains("finite", Fails("addition", Component("exact_match", weight)).Message);

    [Fact]
    public void An_empty_spec_is_refused() =>
        Assert.Contains("at least one component", Fails("addition").Message);

    [Fact]
    public void An_unknown_arg_lists_the_valid_ones()
    {
        var e = Fails(null, Component("http", 1, ("url", "http://127.0.0.1:9/"), ("timout_s", "1")));
        Assert.Contains("'timout_s'", e.Message);
        Assert.Contains("url, timeout_s, retries, backoff_s, max_response_bytes", e.Message);
        Assert.Contains("takes no args", Fails(null, Component("exact_match", 1, ("pattern", "x"))).Message);
    }

    [Theory]
    [InlineData("timeout_s", "abc", "'timeout_s' = 'abc' is not a finite number")]
    [InlineData("timeout_s", "0", "'timeout_s' = 0 is below")]
    [InlineData("retries", "2.5", "'retries' = '2.5' is not an integer")]
    [InlineData("retries", "-1", "'retries' = -1 is out of range")]
    [InlineData("url", "ftp://x/", "'url' = 'ftp://x/' is not an absolute http")]
    [InlineData("max_response_bytes", "100", "'max_response_bytes' = 100 is out of range 1024..1073741824")]
    public void Malformed_http_args_are_named(string key, string value, string message)
    {
        var args = new Dictionary<string, string> { ["url"] = "http://127.0.0.1:9/", [key] = value };
        Assert.Contains(message, Fails(null, new RewardComponentSpec("http", 1, args)).Message);
    }

    [Fact]
    public void Http_needs_a_url_and_format_needs_a_task_or_pattern()
    {
        Assert.Contains("needs the arg 'url'", Fails(null, Component("http", 1)).Message);
        Assert.Contains("'pattern'", Fails(null, Component("format", 1)).Message);
        Assert.Contains("'multiply'", Fails("multiply", Component("format", 1)).Message);
    }

    [Fact]
    public void Http_args_set_the_options()
    {
        using var reward = RewardRegistry.Create(new RewardSpec(
            Component("http", 0.5, ("url", "http://127.0.0.1:9/score"), ("timeout_s", "0.25"), ("retries", "0"), ("backoff_s", "0.01"),
            ("max_response_bytes", "65536"))), null);
        var options = ((HttpReward)reward.Components[0].Reward).Options;
        Assert.Equal(new Uri("http://127.0.0.1:9/score"), options.Url);
        Assert.Equal(TimeSpan.FromMilliseconds(250), options.Timeout);
        Assert.Equal(0, options.Retries);
        Assert.Equal(TimeSpan.FromMilliseconds(10), options.InitialBackoff);
        Assert.Equal(65536, options.MaxResponseBytes);
        var defaults = new HttpRewardOptions(options.Url);
        Assert.Equal((TimeSpan.FromSeconds(30), 3, 4 << 20), (defaults.Timeout, defaults.Retries, defaults.MaxResponseBytes));
    }
}
