namespace RlhfActors.Grains.Learner.Group;

/// <summary>
/// One call of a group's rank 0 to every rank at once (rank 0's own part among them), as the learner and the critic
/// groups make it: a rank blocked in the exchange waits for the others' segments, so the first rank to fail must
/// abort the exchange everywhere, or the others would wait out their patience.
/// </summary>
public static class GroupCall
{
    /// <summary>Waits for every part; calls <paramref name="abort"/> once, with a reason naming the rank and
    /// <paramref name="what"/>, when the first part fails, and returns that rank and its error (null: none failed).</summary>
    public static async Task<(int Rank, Exception Error)?> FirstFailureAsync(IReadOnlyList<(int Rank, Task Task)> parts, string what, Action<string> abort)
    {
        var pending = parts.Select(p => p.Task).ToList();
        (int Rank, Exception Error)? first = null;
        while (pending.Count > 0)
        {
            var done = await Task.WhenAny(pending);
            pending.Remove(done);
            if (!done.IsFaulted || first is not null) continue;
            first = (parts.First(p => p.Task == done).Rank, done.Exception!.GetBaseException());
            abort($"rank {first.Value.Rank} failed during {what}: {first.Value.Error.Message}");
        }
        return first;
    }

    /// <summary>Calls <paramref name="call"/> with a placement hint, so a rank's first activation lands on
    /// <paramref name="silo"/> (one rank per device).</summary>
    public static Task<T> Placed<T>(SiloAddress silo, Func<Task<T>> call)
    {
        RequestContext.Set(Orleans.Runtime.Placement.IPlacementDirector.PlacementHintKey, silo);
        try { return call(); }
        finally { RequestContext.Remove(Orleans.Runtime.Placement.IPlacementDirector.PlacementHintKey); }
    }
}
