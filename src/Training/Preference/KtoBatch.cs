using RlhfActors.Training.Data;

namespace RlhfActors.Training.Preference;

/// <summary>
/// KTO's data, as TRL's KTOTrainer prepares it: paired preferences unpaired, and each batch's examples given their
/// mismatched KL completions.
/// </summary>
public static class KtoBatch
{
    /// <summary>TRL's unpair_preference_dataset: each pair becomes its chosen completion, desirable, and its rejected
    /// one, undesirable: every chosen first, then every rejected, so that rotating a batch of them (<see cref="Rows"/>)
    /// never sets a completion after its own prompt.</summary>
    public static KtoExample[] Unpair(IReadOnlyList<PreferencePair> pairs) =>
        [.. pairs.Select(p => new KtoExample(p.Prompt, p.Chosen, true)), .. pairs.Select(p => new KtoExample(p.Prompt, p.Rejected, false))];

    /// <summary>
    /// The batch as rows for <see cref="PreferenceLogProbs"/>, whose two completions are (y_i, y'_i): the example's own
    /// completion, and the KL completion of TRL's rotation by one within the batch,
    /// <code>(x_1, y_n), (x_2, y_1), …, (x_n, y_{n−1})</code>
    /// so the mismatched completions are the batch's own, each after another prompt. One forward scores both; the
    /// reference grain caches the row like a pair. Labels: true = desirable.
    /// </summary>
    public static (PreferencePair[] Rows, bool[] Labels) Rows(IReadOnlyList<KtoExample> batch)
    {
        if (batch.Count < 2) throw new ArgumentException($"a KTO batch needs at least 2 examples for its KL completions (got {batch.Count})");
        var rows = batch.Select((e, i) => new PreferencePair(e.Prompt, e.Completion, batch[(i + batch.Count - 1) % batch.Count].Completion)).ToArray();
        return (rows, [.. batch.Select(e => e.Label)]);
    }
}
