using System.Buffers;
using System.Text;

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
            ids[i] = IdOf(text[i]) ?? throw new ArgumentException(Unencodable(text), nameof(text));
        return ids;
    }

    /// <summary>Why <see cref="Encode"/> would throw on <paramref name="text"/> — "character 'é' (U+00E9) is not in the
    /// char tokenizer's vocabulary …", naming the first such character and its position — or null when it would not.
    /// Readers of data files call it to report the character at its file and line before training encodes it.</summary>
    public static string? Unencodable(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        for (int i = 0; i < text.Length; i++)
            if (IdOf(text[i]) is null)
                return $"character {Describe(text, i)} is not in the char tokenizer's vocabulary (printable ASCII and '\\n' only), " +
                       $"at position {i}";
        return null;
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

    public string? TokenText(int id) => id switch
    {
        Pad => "<pad>",
        Bos => "<bos>",
        Eos => "<eos>",
        _ => CharOf(id)?.ToString(),
    };

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

    /// <summary>"'é' (U+00E9)"; a control character by its code point alone, and a surrogate pair as the one code
    /// point it encodes.</summary>
    static string Describe(string text, int index)
    {
        if (Rune.DecodeFromUtf16(text.AsSpan(index), out var rune, out _) != OperationStatus.Done)
            return $"U+{(int)text[index]:X4} (an unpaired surrogate)";
        return Rune.IsControl(rune) ? $"U+{rune.Value:X4}" : $"'{rune}' (U+{rune.Value:X4})";
    }

    /// <summary>True when every character of <paramref name="text"/> has an id, i.e. <see cref="Encode"/> will not throw.</summary>
    public static bool CanEncode(string text) => text.All(c => IdOf(c) is not null);
}
