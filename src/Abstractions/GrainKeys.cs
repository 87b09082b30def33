namespace RlhfActors.Abstractions;

/// <summary>
/// How grains of one experiment are keyed. The experiment, its learner and its policy registry share the
/// experiment id; samplers are "&lt;experiment id&gt;/sampler-&lt;index&gt;" so one experiment can hold many.
/// </summary>
public static class GrainKeys
{
    const string SamplerSeparator = "/sampler-";

    /// <summary>The one experiment directory of a cluster (<c>IExperimentDirectoryGrain</c>).</summary>
    public const string ExperimentDirectory = "experiments";

    public static string Sampler(string experimentId, int index) => $"{experimentId}{SamplerSeparator}{index}";

    /// <summary>The experiment id of a sampler key.</summary>
    public static string ExperimentOfSampler(string samplerKey)
    {
        var at = samplerKey.LastIndexOf(SamplerSeparator, StringComparison.Ordinal);
        if (at <= 0) throw new ArgumentException($"'{samplerKey}' is not a sampler key (<experiment>{SamplerSeparator}<n>)", nameof(samplerKey));
        return samplerKey[..at];
    }
}
