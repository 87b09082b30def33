namespace RlhfActors.Training.Rewards;

/// <summary>One named reward with its weight in the sum and its arguments as written in config
/// (e.g. <c>url</c> for "http", <c>pattern</c> for "format").</summary>
public sealed record RewardComponentSpec(string Name, double Weight, IReadOnlyDictionary<string, string> Args)
{
    static readonly IReadOnlyDictionary<string, string> NoArgs = new Dictionary<string, string>();

    public RewardComponentSpec(string name, double weight) : this(name, weight, NoArgs) { }
}

/// <summary>The reward of an experiment: Σ weight_i · reward_i over <see cref="Components"/>, built by
/// <see cref="RewardRegistry.Create"/>.</summary>
public sealed record RewardSpec(IReadOnlyList<RewardComponentSpec> Components)
{
    public RewardSpec(params RewardComponentSpec[] components) : this((IReadOnlyList<RewardComponentSpec>)components) { }
}
