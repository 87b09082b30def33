namespace RlhfActors.Training.Tokenization;

/// <summary>An entry of tokenizer.json's added_tokens: text matched whole before BPE runs.
/// <paramref name="Special"/> tokens (eos, chat markers) decode to nothing.</summary>
public sealed record HfAddedToken(int Id, string Content, bool Special);
