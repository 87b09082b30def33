namespace RlhfActors.Training.Tokenization;

/// <summary>
/// GPT-2's byte-to-unicode table (bytes_to_unicode in the reference code): each of the 256 byte values is
/// written as one printable character, so that a byte-level BPE vocabulary is a set of ordinary strings.
/// Printable Latin-1 bytes map to themselves; the rest (controls, space, …) to U+0100 onwards, e.g. ' ' → 'Ġ'.
/// Microsoft.ML.Tokenizers applies the same table itself when ByteLevel is set; we need it only to check
/// that a vocabulary really is byte-level (all 256 symbols present), which makes every text encodable.
/// </summary>
static class ByteLevelAlphabet
{
    public static IReadOnlyList<string> Symbols { get; } = Build();

    static string[] Build()
    {
        var symbols = new string[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            symbols[b] = ((char)(printable ? b : next++)).ToString();
        }
        return symbols;
    }
}
