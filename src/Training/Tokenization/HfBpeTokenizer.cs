using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace RlhfActors.Training.Tokenization;

/// <summary>
/// A Hugging Face tokenizer.json with a byte-level BPE model (GPT-2, Qwen2, Llama-3), run by
/// Microsoft.ML.Tokenizers' BpeTokenizer. The library does the GPT-2 byte-to-unicode mapping itself
/// (ByteLevel = true), so vocab and merges are passed exactly as the file spells them; the word split is the
/// file's pre-tokenizer regex. Added tokens are matched whole before BPE, so "&lt;|endoftext|&gt;" in a text
/// encodes to its id. Known gap: Llama-3's model.ignore_merges (use a word's vocab entry directly) is not
/// applied; the merges reach the same token for ordinary words.
/// Post-processor templates (e.g. an automatic bos) are not applied: callers add <see cref="BosId"/> themselves.
/// </summary>
public sealed class HfBpeTokenizer : ITokenizer
{
    readonly BpeTokenizer _bpe;
    readonly HashSet<int> _specialIds;

    HfBpeTokenizer(BpeTokenizer bpe, int vocabSize, HfSpecialTokenIds ids, IEnumerable<int> specialIds, string path)
    {
        _bpe = bpe;
        VocabSize = vocabSize;
        EosId = ids.EosId;
        PadId = ids.PadId;
        BosId = ids.BosId;
        _specialIds = specialIds.ToHashSet();
        Path = path;
    }

    /// <summary>The tokenizer.json this was loaded from.</summary>
    public string Path { get; }
    public int VocabSize { get; }
    public int PadId { get; }
    public int EosId { get; }
    public int? BosId { get; }

    /// <summary>Loads <paramref name="tokenizerJsonPath"/> (and tokenizer_config.json beside it, when present).
    /// A file this class cannot reproduce faithfully throws InvalidDataException naming the file and field.</summary>
    public static HfBpeTokenizer Load(string tokenizerJsonPath)
    {
        var file = HfTokenizerFile.Load(tokenizerJsonPath);
        var ids = HfSpecialTokenIds.Resolve(file);
        var addedTokens = file.AddedTokens.ToDictionary(t => t.Content, t => t.Id, StringComparer.Ordinal);
        var bpe = BpeTokenizer.Create(new BpeOptions(file.Vocab)
        {
            Merges = file.Merges,
            ByteLevel = true,
            SpecialTokens = addedTokens,
            PreTokenizer = new RegexPreTokenizer(new Regex(file.SplitPattern, RegexOptions.Compiled), addedTokens),
        });
        int vocabSize = Math.Max(file.Vocab.Values.Max(), file.AddedTokens.Select(t => t.Id).DefaultIfEmpty(-1).Max()) + 1;
        return new HfBpeTokenizer(bpe, vocabSize, ids, file.AddedTokens.Where(t => t.Special).Select(t => t.Id), tokenizerJsonPath);
    }

    public IReadOnlyList<int> Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return _bpe.EncodeToIds(text);
    }

    /// <summary>Special added tokens (eos, pad, chat markers) decode to nothing, as Hugging Face's
    /// skip_special_tokens=True: a generated eos ends the text, it is not part of it. Ids with no token
    /// (a model's padded embedding rows) decode to nothing too.</summary>
    public string Decode(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var kept = new List<int>();
        foreach (var id in ids)
        {
            if (id < 0) throw new ArgumentOutOfRangeException(nameof(ids), id, "token ids are never negative");
            if (!_specialIds.Contains(id)) kept.Add(id);
        }
        return _bpe.Decode(kept, considerSpecialTokens: true);
    }
}
