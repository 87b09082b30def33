namespace RlhfActors.Training.Tokenization;

/// <summary>
/// The character tokenizer of the built-in synthetic tasks. Its vocabulary is fixed in code, so every
/// process (learner, samplers, evaluator, a later resume) agrees on the ids without sharing a file:
/// 0 = &lt;pad&gt;, 1 = &lt;bos&gt;, 2 = &lt;eos&gt;, 3..97 = printable ASCII 0x20..0x7E in order, 98 = '\n'.
/// </summary>
public sealed class CharTokenizer : ITokenizer
{
    public const int Pad = 0;
    public const int Bos = 1;
    public const int Eos = 2;
    const int FirstPrintableId = 3;
    const char FirstPrintable = ' ';
    const char LastPrintable = '~';
    const int NewlineId = FirstPrintableId + (LastPrintable - FirstPrintable) + 1;

    public static CharTokenizer Instance { get; } = new();

    public int VocabSize => NewlineId + 1;
    public int PadId => Pad;
    public int EosId => Eos;
    public int? BosId => Bos;

    /// <summary>Special tokens are never produced from text: "&lt;eos&gt;" in the input is five characters.</summary>
    public IReadOnlyList<int> Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new int[text.Length];
        for (int i = 0; i < text.Length; i++)
            ids[i] = IdOf(text[i]) ?? throw new ArgumentException(
                $"character {Describe(text[i])} at position {i} is not in the character tokenizer's vocabulary " +
                "(printable ASCII and '\\n' only)", nameof(text));
        return ids;
    }

    /// <summary>Pad, bos and eos decode to nothing (a generated eos ends the text, it is not part of it).
    /// Ids past the vocabulary also decode to nothing: a model may pad its embedding rows beyond it.</summary>
    public string Decode(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var text = new System.Text.StringBuilder();
        foreach (var id in ids)
        {
            if (id < 0) throw new ArgumentOutOfRangeException(nameof(ids), id, "token ids are never negative");
            if (CharOf(id) is char c) text.Append(c);
        }
        return text.ToString();
    }

    static int? IdOf(char c) => c switch
    {
        '\n' => NewlineId,
        >= FirstPrintable and <= LastPrintable => FirstPrintableId + (c - FirstPrintable),
        _ => null,
    };

    static char? CharOf(int id) => id switch
    {
        NewlineId => '\n',
        >= FirstPrintableId and < NewlineId => (char)(FirstPrintable + (id - FirstPrintableId)),
        _ => null,
    };

    static string Describe(char c) => char.IsControl(c) || char.IsWhiteSpace(c) || c > '~'
        ? $"U+{(int)c:X4}" + (char.IsControl(c) ? "" : $" '{c}'")
        : $"'{c}'";

    /// <summary>True when every character of <paramref name="text"/> has an id, i.e. <see cref="Encode"/> will not throw.</summary>
    public static bool CanEncode(string text) => text.All(c => IdOf(c) is not null);
}
