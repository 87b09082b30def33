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
    /// <summary>The ids that end a generated completion (evaluation, rollouts): the eos and, for a Hugging Face
    /// tokenizer, the eos ids of generation_config.json in its folder (an instruct model's end of turn, e.g.
    /// Llama-3.1's [128001, 128008, 128009]), as transformers' generate stops.</summary>
    IReadOnlyList<int> StopIds => [EosId];
    /// <summary>Beginning-of-sequence id prepended to prompts, or null when the tokenizer has none.</summary>
    int? BosId { get; }
    /// <summary>The ids of <paramref name="text"/> with no special token added (transformers' add_special_tokens=False).</summary>
    IReadOnlyList<int> Encode(string text);
    /// <summary>The ids transformers gives with add_special_tokens=True: the bos first, when the tokenizer adds one.</summary>
    IReadOnlyList<int> EncodeWithSpecialTokens(string text) => BosId is int bos ? [bos, .. Encode(text)] : Encode(text);
    /// <summary>The token's text as the vocabulary spells it (transformers' convert_ids_to_tokens), or null for an id
    /// with no token.</summary>
    string? TokenText(int id);
    string Decode(IEnumerable<int> ids);
}
