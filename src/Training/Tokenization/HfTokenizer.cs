using RustTokenizer = global::Tokenizers.DotNet.Tokenizer;

namespace RlhfActors.Training.Tokenization;

/// <summary>
/// A Hugging Face tokenizer.json, encoded and decoded by Hugging Face's own Rust tokenizers library (0.22, through
/// the Tokenizers.DotNet 1.4.1 package and its linux-x64 native library). Whatever the file declares (NFC/NFKC and
/// other normalizers, Split with any behaviour, Metaspace, Digits, ignore_merges, byte_fallback, Unigram, added
/// tokens) runs exactly as in transformers, with no copy of those algorithms here.
/// The wrapper always encodes with add_special_tokens=True; <see cref="Encode"/> removes the post-processor's
/// prefix and suffix again (checking they are there), so callers choose where special tokens go. Decoding skips
/// special tokens (skip_special_tokens=True): a generated eos ends a text, it is not part of it. Thread-safe: the
/// native side keeps the tokenizer behind a read lock.
/// </summary>
public sealed class HfTokenizer : ITokenizer
{
    readonly RustTokenizer _rust;
    readonly HfTokenizerFile _file;

    HfTokenizer(RustTokenizer rust, HfTokenizerFile file, HfSpecialTokenIds ids)
    {
        _rust = rust;
        _file = file;
        EosId = ids.EosId;
        PadId = ids.PadId;
        BosId = file.PostProcessor.Prefix.Count == 1 ? file.PostProcessor.Prefix[0] : null;
        StopIds = [.. new[] { EosId }.Concat(Model.GenerationConfig.EosIds(TokenizerFiles.FolderOf(file.Path))).Distinct()];
    }

    /// <summary>The tokenizer.json this was loaded from.</summary>
    public string Path => _file.Path;
    public int VocabSize => _file.VocabSize;
    public int PadId { get; }
    public int EosId { get; }
    public IReadOnlyList<int> StopIds { get; }
    /// <summary>The one token the post-processor puts before a text (Llama-3, Gemma), or null (GPT-2, Qwen).</summary>
    public int? BosId { get; }

    /// <summary>Loads <paramref name="tokenizerJsonPath"/> (and tokenizer_config.json beside it, when present).
    /// A file the library cannot load, or one whose special tokens this project cannot place, throws
    /// InvalidDataException naming the file and field.</summary>
    public static HfTokenizer Load(string tokenizerJsonPath)
    {
        var file = HfTokenizerFile.Load(tokenizerJsonPath);
        var post = file.PostProcessor;
        // Prompts get the prefix and completions end in eos (EncodedExample); a longer prefix or a suffix (BERT's
        // [SEP]) has no place in a decoder's training sequence.
        if (post.Prefix.Count > 1 || post.Suffix.Count > 0)
            throw new InvalidDataException(
                $"{tokenizerJsonPath}: field 'post_processor' adds [{string.Join(", ", post.Prefix)}] before and [{string.Join(", ", post.Suffix)}] " +
                "after each text; a decoder language model's tokenizer adds at most one token (its bos) before");
        var ids = HfSpecialTokenIds.Resolve(file);
        RustTokenizer rust;
        try { rust = new RustTokenizer(System.IO.Path.GetFullPath(tokenizerJsonPath)); }
        catch (global::Tokenizers.DotNet.TokenizerException e)
        {
            throw new InvalidDataException($"{tokenizerJsonPath}: Hugging Face tokenizers cannot load it: {e.Message}", e);
        }
        return new HfTokenizer(rust, file, ids);
    }

    /// <summary>The ids of <paramref name="text"/> with no special token added (add_special_tokens=False). Special
    /// tokens written in the text ("&lt;|im_end|&gt;") encode to their ids, as in transformers.</summary>
    public IReadOnlyList<int> Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = _rust.Encode(text);
        var (prefix, suffix) = (_file.PostProcessor.Prefix, _file.PostProcessor.Suffix);
        int length = ids.Length - prefix.Count - suffix.Count;
        if (length < 0 || !Matches(ids, 0, prefix) || !Matches(ids, ids.Length - suffix.Count, suffix))
            throw new InvalidOperationException($"{Path}: the tokenizers library did not add the post-processor's special tokens as the file declares them");
        var result = new int[length];
        for (int i = 0; i < length; i++) result[i] = checked((int)ids[prefix.Count + i]);
        return result;
    }

    public string Decode(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var native = ids.Select(id => id >= 0 ? (uint)id : throw new ArgumentOutOfRangeException(nameof(ids), id, "token ids are never negative")).ToArray();
        return _rust.Decode(native);
    }

    /// <summary>The token's text as the vocabulary spells it ("Ġhello", "&lt;|im_end|&gt;"), as transformers'
    /// convert_ids_to_tokens; null for an id with no token.</summary>
    public string? TokenText(int id) => _file.Tokens.TryGetValue(id, out var token) ? token : null;

    static bool Matches(uint[] ids, int start, IReadOnlyList<int> expected)
    {
        for (int i = 0; i < expected.Count; i++)
            if (ids[start + i] != (uint)expected[i]) return false;
        return true;
    }
}
