namespace RlhfActors.Training.Tokenization;

/// <summary>Text to token ids and back. Implementations: the character tokenizer of the built-in
/// tasks, and Hugging Face tokenizer.json (byte-level BPE).</summary>
public interface ITokenizer
{
    int VocabSize { get; }
    /// <summary>Id used to pad batches; never trained on (masked out of every loss).</summary>
    int PadId { get; }
    /// <summary>End-of-sequence id appended to completions and used as a stop token.</summary>
    int EosId { get; }
    /// <summary>Beginning-of-sequence id prepended to prompts, or null when the tokenizer has none.</summary>
    int? BosId { get; }
    IReadOnlyList<int> Encode(string text);
    string Decode(IEnumerable<int> ids);
}
