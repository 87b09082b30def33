namespace RlhfActors.Training.Judging;

/// <summary>Two candidate completions <see cref="A"/> and <see cref="B"/> of <see cref="Prompt"/> for a judge to
/// compare. The names are the query's, not the presentation's: a judge also shows B first and maps the answer back.</summary>
public sealed record PairwiseQuery(string Prompt, string A, string B);
