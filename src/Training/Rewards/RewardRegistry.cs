namespace RlhfActors.Training.Rewards;

/// <summary>Builds an experiment's reward from its <see cref="RewardSpec"/>. Names match case-insensitively; an
/// unknown name, a non-finite weight or an empty spec is an ArgumentException that says what is valid.</summary>
public static class RewardRegistry
{
    sealed record Definition(string Name, Func<RewardArgs, string?, IRewardFunction> Create, string[] Args);

    static readonly Definition[] Definitions =
    [
        new(ExactMatchReward.RewardName, (_, _) => ExactMatchReward.Instance, []),
        new(FormatReward.RewardName, CreateFormat, ["pattern"]),
        new(HttpReward.RewardName, (args, _) => new HttpReward(HttpRewardOptions.FromArgs(args)), HttpRewardOptions.ArgNames),
    ];

    public static IReadOnlyList<string> Names { get; } = Definitions.Select(d => d.Name).ToArray();

    /// <summary>The composite Σ w_i · r_i of <paramref name="spec"/>'s components. <paramref name="taskName"/> is the
    /// experiment's built-in task, if any: "format" without a pattern takes its shape from it. The caller owns (and
    /// disposes) the result.</summary>
    public static CompositeReward Create(RewardSpec spec, string? taskName)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (spec.Components is not { Count: > 0 })
            throw new ArgumentException($"the reward needs at least one component; known rewards: {string.Join(", ", Names)}", nameof(spec));

        var built = new List<WeightedReward>();
        try
        {
            for (int i = 0; i < spec.Components.Count; i++)
            {
                var component = spec.Components[i] ?? throw new ArgumentException($"reward component {i} is null", nameof(spec));
                if (!double.IsFinite(component.Weight))
                    throw new ArgumentException($"reward component {i} ('{component.Name}') has weight {component.Weight}; weights must be finite", nameof(spec));
                var definition = Definitions.FirstOrDefault(d => string.Equals(d.Name, component.Name?.Trim(), StringComparison.OrdinalIgnoreCase))
                    ?? throw new ArgumentException($"unknown reward '{component.Name}' (component {i}); known rewards: {string.Join(", ", Names)}", nameof(spec));
                var args = new RewardArgs(definition.Name, component.Args, definition.Args);
                built.Add(new WeightedReward(definition.Create(args, taskName), component.Weight));
            }
        }
        catch
        {
            // A later component's error must not leak the HttpClient of an earlier one.
            foreach (var done in built) (done.Reward as IDisposable)?.Dispose();
            throw;
        }
        return new CompositeReward(built);
    }

    static IRewardFunction CreateFormat(RewardArgs args, string? taskName)
    {
        if (args.Optional("pattern") is { } pattern) return FormatReward.FromPattern(pattern);
        if (taskName is null)
            throw new ArgumentException(
                $"reward '{FormatReward.RewardName}' needs the arg 'pattern' when the experiment has no built-in task " +
                $"(built-in shapes: {string.Join(", ", FormatReward.TaskNames)})");
        return FormatReward.ForTask(taskName);
    }
}
