namespace RlhfActors.Training.Judging;

/// <summary>
/// Keeps every verdict a judge has given, so that a batch interrupted by an endpoint outage is resumed, not redone:
/// the verdicts handed back in <see cref="JudgeUnavailableException.Completed"/> are stored, and asking the same batch
/// again sends only the queries still pending. This is how the judge grain loses no pair when the endpoint stays down.
/// </summary>
public sealed class VerdictCache(IPairwiseJudge inner) : IPairwiseJudge
{
    readonly Dictionary<PairwiseQuery, JudgeVerdict> _verdicts = [];

    public int Count => _verdicts.Count;

    public async Task<IReadOnlyList<JudgeVerdict>> JudgeAsync(IReadOnlyList<PairwiseQuery> queries, CancellationToken ct)
    {
        var missing = queries.Where(q => !_verdicts.ContainsKey(q)).Distinct().ToArray();
        if (missing.Length > 0)
        {
            try
            {
                var verdicts = await inner.JudgeAsync(missing, ct).ConfigureAwait(false);
                for (int i = 0; i < missing.Length; i++) _verdicts[missing[i]] = verdicts[i];
            }
            catch (JudgeUnavailableException e)
            {
                foreach (var (index, verdict) in e.Completed) _verdicts[missing[index]] = verdict;
                throw;
            }
        }
        return queries.Select(q => _verdicts[q]).ToArray();
    }

    /// <summary>Forgets the verdicts of a finished round (the next round's candidates are new).</summary>
    public void Clear() => _verdicts.Clear();

    public void Dispose() => inner.Dispose();
}
