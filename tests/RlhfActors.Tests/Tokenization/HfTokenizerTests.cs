using System.Text;
using System.Text.Json.Nodes;
using RlhfActors.Tests.Data;
using RlhfActors.Training.Tokenization;

namespace RlhfActors.Tests.Tokenization;

public sealed class HfTokenizerTests : IDisposable
{
    readonly TempDirectory _folder = new();

    public void Dispose() => _folder.Dispose();

    HfTokenizer Load(JsonObject json, string name = "tokenizer.json") => HfTokenizer.Load(_folder.Write(name, json.ToJsonString()));

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Merges_apply_in_either_file_format(bool mergesAsPairs)
    {
        var tokenizer = Load(TinyTokenizerJson.Build(mergesAsPairs));
        Assert.Equal(new[] { TinyTokenizerJson.Hello, TinyTokenizerJson.SpaceHello }, tokenizer.Encode("hello hello"));
        // "help": only "h e" and "he l" apply; the space before a word is the byte symbol Ġ (byte 0x20 = id 32).
        Assert.Equal(new[] { 257, 'p' }, tokenizer.Encode("help"));
        Assert.Equal(new[] { 32, 104, 105 }, tokenizer.Encode(" hi"));
    }

    [Theory]
    [InlineData("hello hello")]
    [InlineData("The quick brown fox, 42 jumps!\n\tdone  ")]
    [InlineData("héllo ✓ 日本")]
    public void Decode_inverts_encode(string text)
    {
        var tokenizer = Load(TinyTokenizerJson.Build());
        Assert.Equal(text, tokenizer.Decode(tokenizer.Encode(text)));
    }

    [Fact]
    public void Non_ascii_text_encodes_as_its_utf8_bytes()
    {
        var tokenizer = Load(TinyTokenizerJson.Build());
        Assert.Equal(Encoding.UTF8.GetBytes("é✓").Select(b => (int)b), tokenizer.Encode("é✓"));
    }

    [Fact]
    public void Added_special_tokens_encode_to_their_ids_and_decode_to_nothing()
    {
        var tokenizer = Load(TinyTokenizerJson.Build());
        Assert.Equal(new[] { TinyTokenizerJson.EndOfText }, tokenizer.Encode("<|endoftext|>"));
        Assert.Equal(new[] { TinyTokenizerJson.Hello, TinyTokenizerJson.EndOfText, TinyTokenizerJson.SpaceHello },
            tokenizer.Encode("hello<|endoftext|> hello"));
        Assert.Equal("hello hello", tokenizer.Decode([TinyTokenizerJson.Hello, TinyTokenizerJson.EndOfText, TinyTokenizerJson.SpaceHello]));
    }

    [Fact]
    public void Without_a_config_eos_is_the_endoftext_token_and_pads_with_it()
    {
        var tokenizer = Load(TinyTokenizerJson.Build());
        Assert.Equal(TinyTokenizerJson.EndOfText, tokenizer.EosId);
        Assert.Equal(TinyTokenizerJson.EndOfText, tokenizer.PadId);
        Assert.Null(tokenizer.BosId);
        Assert.Equal(TinyTokenizerJson.ImEnd + 1, tokenizer.VocabSize);
    }

    [Fact]
    public void Tokenizer_config_names_eos_and_pad_and_a_bos_name_alone_adds_no_bos()
    {
        _folder.Write("tokenizer_config.json", """
            {"eos_token": {"content": "<|im_end|>", "special": true}, "pad_token": "<|endoftext|>", "bos_token": "hello"}
            """);
        var tokenizer = Load(TinyTokenizerJson.Build());
        Assert.Equal(TinyTokenizerJson.ImEnd, tokenizer.EosId);
        Assert.Equal(TinyTokenizerJson.EndOfText, tokenizer.PadId);
        Assert.Null(tokenizer.BosId);
    }

    [Fact]
    public void The_post_processor_template_gives_the_bos_and_encode_leaves_it_out()
    {
        ITokenizer tokenizer = Load(TinyTokenizerJson.Build(bosTemplate: true));
        Assert.Equal(TinyTokenizerJson.Hello, tokenizer.BosId);
        Assert.Equal(new[] { 32, 104, 105 }, tokenizer.Encode(" hi"));
        Assert.Equal(new[] { TinyTokenizerJson.Hello, 32, 104, 105 }, tokenizer.EncodeWithSpecialTokens(" hi"));
    }

    [Fact]
    public void Tokenizer_config_naming_an_unknown_token_is_an_error_naming_the_field()
    {
        var config = _folder.Write("tokenizer_config.json", """{"eos_token": "</s>"}""");
        var error = Assert.Throws<InvalidDataException>(() => Load(TinyTokenizerJson.Build()));
        Assert.Contains(config, error.Message);
        Assert.Contains("eos_token", error.Message);
    }

    [Fact]
    public void Qwen2_style_split_regex_is_honoured()
    {
        // The Qwen2 regex splits digits one by one, so the "1 2" merge never applies; GPT-2's keeps "12" whole.
        var gpt2 = Load(TinyTokenizerJson.Build(), "gpt2.json");
        var qwen = Load(TinyTokenizerJson.Build(qwenStyle: true), "qwen.json");
        Assert.Equal(new[] { TinyTokenizerJson.OneTwo }, gpt2.Encode("12"));
        Assert.Equal(new[] { '1', '2' }.Select(c => (int)c), qwen.Encode("12"));
        Assert.Equal("héllo 12 ✓", qwen.Decode(qwen.Encode("héllo 12 ✓")));
    }

    [Fact]
    public void Invalid_json_names_the_file()
    {
        var path = _folder.Write("tokenizer.json", """{"model": {"type": "BPE", """);
        var error = Assert.Throws<InvalidDataException>(() => HfTokenizer.Load(path));
        Assert.Contains(path, error.Message);
    }

    public static TheoryData<string, Action<JsonObject>> Malformations => new()
    {
        { "model.vocab", json => json["model"]!.AsObject().Remove("vocab") },
        { "model.vocab[\"h\"]", json => json["model"]!["vocab"]!["h"] = "104" },
        { "added_tokens[1].id", json => json["added_tokens"]![1]!.AsObject().Remove("id") },
        { "truncation", json => json["truncation"] = new JsonObject { ["max_length"] = 8, ["strategy"] = "LongestFirst" } },
        { "post_processor.type", json => json["post_processor"] = new JsonObject { ["type"] = "Unknown" } },
        { "post_processor", json => json["post_processor"] = new JsonObject { ["type"] = "BertProcessing", ["cls"] = new JsonArray("hello", 259), ["sep"] = new JsonArray("<|im_end|>", 263) } },
    };

    [Theory]
    [MemberData(nameof(Malformations))]
    public void Malformed_file_is_an_error_naming_file_and_field(string field, Action<JsonObject> breakIt)
    {
        var json = TinyTokenizerJson.Build();
        breakIt(json);
        var path = _folder.Write("tokenizer.json", json.ToJsonString());
        var error = Assert.Throws<InvalidDataException>(() => HfTokenizer.Load(path));
        Assert.Contains(path, error.Message);
        Assert.Contains($"'{field}'", error.Message);
    }

    public static TheoryData<string, Action<JsonObject>> RejectedByTheLibrary => new()
    {
        { "merge of a symbol not in the vocabulary", json => json["model"]!["merges"]![2] = "hel x" },
        { "Unigram with a BPE vocabulary", json => json["model"]!["type"] = "Unigram" },
        { "unknown pre-tokenizer", json => json["pre_tokenizer"]!["type"] = "NoSuchStep" },
    };

    [Theory]
    [MemberData(nameof(RejectedByTheLibrary))]
    public void A_file_the_tokenizers_library_rejects_is_an_error_naming_the_file_and_its_reason(string what, Action<JsonObject> breakIt)
    {
        var json = TinyTokenizerJson.Build();
        breakIt(json);
        var path = _folder.Write("tokenizer.json", json.ToJsonString());
        var error = Assert.Throws<InvalidDataException>(() => HfTokenizer.Load(path));
        Assert.Contains(path, error.Message);
        Assert.Contains("Hugging Face tokenizers cannot load it", error.Message);
        Assert.False(string.IsNullOrWhiteSpace(what));
    }

    [Fact]
    public void File_without_any_eos_is_an_error()
    {
        var path = _folder.Write("tokenizer.json", TinyTokenizerJson.Build(withAddedTokens: false).ToJsonString());
        var error = Assert.Throws<InvalidDataException>(() => HfTokenizer.Load(path));
        Assert.Contains(path, error.Message);
        Assert.Contains("eos_token", error.Message);
    }
}
