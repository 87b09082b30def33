using RlhfActors.Abstractions.Messaging;
using RlhfActors.Abstractions.Placement;
using RlhfActors.Abstractions.Preference;

namespace RlhfActors.Abstractions.Grains;

/// <summary>RLAIF's AI judge (key: experiment id): ranks each prompt's candidates and turns them into preference
/// pairs. Backends (config's rlaif.judge): the experiment's trained reward model, a local decoder asked "A or B", or
/// an OpenAI-compatible chat-completions endpoint. Pairs the endpoint could not judge are kept and judged first on
/// the next call, so an outage loses none.</summary>
[Alias("rlhf.IJudgeGrain")]
public interface IJudgeGrain : IGrainWithStringKey
{
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("Initialize")]
    Task Initialize(JudgeInit init);

    /// <summary>One pair (best ≻ worst) per prompt the judge can tell apart.</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("Rank")]
    Task<RankResult> Rank(System.Collections.Immutable.ImmutableArray<CandidateGroup> groups);

    [Alias("GetPlacement")]
    Task<GrainPlacement> GetPlacement();

    /// <summary>Why <paramref name="judge"/> could not run on this judge's silo (its <c>api_key_env</c> variable is unset
    /// in this silo's environment), or null. Asked when the experiment starts, so the key is checked on the machine
    /// that will send it.</summary>
    [Alias("CheckEnvironment")]
    Task<string?> CheckEnvironment(Config.JudgeSection judge);

    [Alias("Release")]
    Task Release();
}
