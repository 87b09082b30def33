using RlhfActors.Abstractions.Config;
using RlhfActors.Training.Judging;

namespace RlhfActors.Grains.Specs;

/// <summary>The config's <c>rlaif.judge</c> section → the Training layer's judge options.</summary>
public static class JudgeSpecs
{
    public static HttpChatJudgeOptions Http(JudgeSection judge) => new HttpChatJudgeOptions(
        new Uri(judge.BaseUrl ?? throw new ArgumentException("rlaif.judge.base_url is required for an http judge")),
        judge.Model ?? throw new ArgumentException("rlaif.judge.model is required for an http judge"))
    {
        ApiKeyEnvironmentVariable = judge.ApiKeyEnv,
        MaxConcurrency = judge.MaxConcurrency,
        Timeout = TimeSpan.FromSeconds(judge.TimeoutSeconds),
        Retries = judge.Retries,
        BothOrders = judge.BothOrders,
        MaxResponseBytes = judge.MaxResponseBytes,
    }.Validated();
}
