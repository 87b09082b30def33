using System.Text.Json.Nodes;

namespace RlhfActors.Tests.Tokenization;

/// <summary>
/// Builds a small byte-level BPE tokenizer.json: the 256 byte symbols at ids 0..255 (byte b → id b), then merges
/// "h e", "he l", "hel l", "hell o", "Ġ hello", "1 2" at ids 256..261, then added tokens &lt;|endoftext|&gt; (262)
/// and &lt;|im_end|&gt; (263). The byte table is written out here independently of the production code.
/// </summary>
static class TinyTokenizerJson
{
    public const int Hello = 259, SpaceHello = 260, OneTwo = 261, EndOfText = 262, ImEnd = 263;
    public const string Gpt2Regex = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";
    public const string Qwen2Regex = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    static readonly string[][] Merges = [["h", "e"], ["he", "l"], ["hel", "l"], ["hell", "o"], ["Ġ", "hello"], ["1", "2"]];

    public static string ByteSymbol(int b)
    {
        bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        if (printable) return ((char)b).ToString();
        int rank = Enumerable.Range(0, b).Count(x => !((x >= 0x21 && x <= 0x7E) || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE && x <= 0xFF)));
        return ((char)(256 + rank)).ToString();
    }

    /// <param name="mergesAsPairs">["a","b"] arrays (tokenizers ≥ 0.20) instead of "a b" strings.</param>
    /// <param name="qwenStyle">Sequence [Split(Qwen2 regex), ByteLevel(use_regex=false)] instead of GPT-2's ByteLevel.</param>
    /// <param name="bosTemplate">A TemplateProcessing post-processor that puts "hello" (as a bos) before every text.</param>
    public static JsonObject Build(bool mergesAsPairs = false, bool qwenStyle = false, bool withAddedTokens = true, bool bosTemplate = false)
    {
        var vocab = new JsonObject();
        for (int b = 0; b < 256; b++) vocab[ByteSymbol(b)] = b;
        var merges = new JsonArray();
        int id = 256;
        foreach (var pair in Merges)
        {
            vocab[pair[0] + pair[1]] = id++;
            merges.Add(mergesAsPairs ? new JsonArray(pair[0], pair[1]) : JsonValue.Create(pair[0] + " " + pair[1]));
        }
        JsonNode preTokenizer = qwenStyle
            ? new JsonObject
            {
                ["type"] = "Sequence",
                ["pretokenizers"] = new JsonArray(
                    new JsonObject { ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = Qwen2Regex }, ["behavior"] = "Isolated", ["invert"] = false },
                    new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = false, ["use_regex"] = false }),
            }
            : new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = true };
        var added = new JsonArray();
        if (withAddedTokens)
        {
            added.Add(AddedToken(EndOfText, "<|endoftext|>"));
            added.Add(AddedToken(ImEnd, "<|im_end|>"));
        }
        return new JsonObject
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = added,
            ["post_processor"] = bosTemplate
                ? new JsonObject
                {
                    ["type"] = "TemplateProcessing",
                    ["single"] = new JsonArray(
                        new JsonObject { ["SpecialToken"] = new JsonObject { ["id"] = "hello", ["type_id"] = 0 } },
                        new JsonObject { ["Sequence"] = new JsonObject { ["id"] = "A", ["type_id"] = 0 } }),
                    ["pair"] = new JsonArray(),
                    ["special_tokens"] = new JsonObject
                    {
                        ["hello"] = new JsonObject { ["id"] = "hello", ["ids"] = new JsonArray(Hello), ["tokens"] = new JsonArray("hello") },
                    },
                }
                : null,
            ["normalizer"] = qwenStyle ? new JsonObject { ["type"] = "NFC" } : null,
            ["pre_tokenizer"] = preTokenizer,
            ["decoder"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = true },
            ["model"] = new JsonObject
            {
                ["type"] = "BPE",
                ["dropout"] = null,
                ["unk_token"] = null,
                ["continuing_subword_prefix"] = "",
                ["end_of_word_suffix"] = "",
                ["fuse_unk"] = false,
                ["byte_fallback"] = false,
                ["vocab"] = vocab,
                ["merges"] = merges,
            },
        };
    }

    static JsonObject AddedToken(int id, string content) => new()
    {
        ["id"] = id, ["content"] = content, ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false,
        ["normalized"] = false, ["special"] = true,
    };
}
