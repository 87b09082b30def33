using System.Collections.Immutable;

namespace RlhfActors.Abstractions.Config;

/// <summary>An earlier task to watch for catastrophic forgetting (<c>eval.watch</c>): its held-out accuracy is
/// measured before training and at every evaluation, and reported as retention (now ÷ before).</summary>
[GenerateSerializer, Immutable, Alias("rlhf.WatchTask")]
public sealed record WatchTask
{
    /// <summary>The name it is reported under; the task name when unset.</summary>
    [Id(0)] public string Name { get; init; } = "";
    [Id(1)] public string Task { get; init; } = "";
    [Id(2)] public ImmutableSortedDictionary<string, int> TaskParameters { get; init; } = ImmutableSortedDictionary<string, int>.Empty;
    [Id(3)] public int EvalExamples { get; init; } = 200;
}
