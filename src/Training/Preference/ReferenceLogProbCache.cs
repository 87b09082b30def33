using System.Collections.Concurrent;
using RlhfActors.Training.Data;

namespace RlhfActors.Training.Preference;

/// <summary>
/// Reference log-probs computed once per pair. The reference model is frozen, so (log π_ref(chosen), log π_ref(rejected))
/// of a pair never changes over a DPO run: computing it once, on first sight of the pair, saves one reference forward
/// per pair per epoch. Keyed by the pair's exact (prompt, chosen, rejected) strings; values are sequence log-prob sums,
/// as <see cref="PreferenceLogProbs.Rows"/> returns them. Thread-safe: a reference worker may fill it while a learner
/// reads it.
/// </summary>
public sealed class ReferenceLogProbCache
{
    readonly ConcurrentDictionary<(string Prompt, string Chosen, string Rejected), (float Chosen, float Rejected)> values = new();

    public int Count => values.Count;

    public bool TryGet(PreferencePair pair, out (float Chosen, float Rejected) logProbs) =>
        values.TryGetValue(Key(pair), out logProbs);

    /// <summary>Stores a pair's reference log-probs; a pair already cached keeps its first value (both are the same
    /// frozen model's).</summary>
    public void Add(PreferencePair pair, (float Chosen, float Rejected) logProbs) => values.TryAdd(Key(pair), logProbs);

    /// <summary>The pairs of <paramref name="pairs"/> with no cached value yet, in order, each once: the ones a
    /// reference forward is still needed for.</summary>
    public IReadOnlyList<PreferencePair> Missing(IEnumerable<PreferencePair> pairs)
    {
        var seen = new HashSet<(string, string, string)>();
        return pairs.Where(p => !values.ContainsKey(Key(p)) && seen.Add(Key(p))).ToArray();
    }

    /// <summary>The reference rows of <paramref name="pairs"/>, in order: the missing ones computed by one call of
    /// <paramref name="compute"/> (each once, in order of first sight), the rest from the cache. The reference grain
    /// and the in-process online DPO loop both go through here, so they batch the reference's forwards alike.</summary>
    public (float Chosen, float Rejected)[] GetOrCompute(IReadOnlyList<PreferencePair> pairs,
        Func<IReadOnlyList<PreferencePair>, IReadOnlyList<(float Chosen, float Rejected)>> compute)
    {
        var missing = Missing(pairs);
        if (missing.Count > 0)
        {
            var rows = compute(missing);
            for (int i = 0; i < missing.Count; i++) Add(missing[i], rows[i]);
        }
        return [.. pairs.Select(p => TryGet(p, out var lp) ? lp
            : throw new InvalidOperationException("a pair's reference log-probs went missing from the cache"))];
    }

    static (string, string, string) Key(PreferencePair pair) => (pair.Prompt, pair.Chosen, pair.Rejected);
}
