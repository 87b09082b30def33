using RlhfActors.Abstractions.Config;
using RlhfActors.Grains.Specs;
using RlhfActors.Training.Judging;

namespace RlhfActors.Tests.Judging;

public sealed class JudgeSpecsTests
{
    [Fact]
    public void The_http_judge_section_reaches_the_options()
    {
        var options = JudgeSpecs.Http(new JudgeSection
        {
            Type = JudgeType.Http, BaseUrl = "http://127.0.0.1:9/v1", Model = "m", ApiKeyEnv = "JUDGE_KEY",
            MaxConcurrency = 3, TimeoutSeconds = 7, Retries = 2, BothOrders = false, MaxResponseBytes = 65536,
        });
        Assert.Equal((new Uri("http://127.0.0.1:9/v1"), "m", "JUDGE_KEY"), (options.BaseUrl, options.Model, options.ApiKeyEnvironmentVariable));
        Assert.Equal((3, TimeSpan.FromSeconds(7), 2, false), (options.MaxConcurrency, options.Timeout, options.Retries, options.BothOrders));
        Assert.Equal(65536, options.MaxResponseBytes);
        // The config's default is the judge's own: a config that leaves the field out gets what the options document.
        Assert.Equal(new HttpChatJudgeOptions(options.BaseUrl, "m").MaxResponseBytes, new JudgeSection().MaxResponseBytes);
    }
}
