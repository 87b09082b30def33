using RlhfActors.Training.Tokenization;

namespace RlhfActors.Tests.Tokenization;

public sealed class CharTokenizerTests
{
    readonly CharTokenizer _tokenizer = CharTokenizer.Instance;

    [Fact]
    public void Special_ids_and_vocabulary_size_are_fixed()
    {
        Assert.Equal(0, _tokenizer.PadId);
        Assert.Equal(1, _tokenizer.BosId);
        Assert.Equal(2, _tokenizer.EosId);
        Assert.Equal(99, _tokenizer.VocabSize);
    }

    [Theory]
    [InlineData(' ', 3)]
    [InlineData('0', 3 + 0x30 - 0x20)]
    [InlineData('A', 3 + 0x41 - 0x20)]
    [InlineData('~', 97)]
    [InlineData('\n', 98)]
    public void Characters_map_to_ascii_order_ids(char c, int id) => Assert.Equal(new[] { id }, _tokenizer.Encode(c.ToString()));

    [Fact]
    public void Every_known_character_round_trips()
    {
        var text = new string(Enumerable.Range(0x20, 0x7F - 0x20).Select(i => (char)i).ToArray()) + "\n";
        var ids = _tokenizer.Encode(text);
        Assert.Equal(Enumerable.Range(3, 96), ids);
        Assert.Equal(text, _tokenizer.Decode(ids));
    }

    [Fact]
    public void Decode_skips_pad_bos_and_eos_and_ids_past_the_vocabulary()
    {
        var hi = _tokenizer.Encode("hi");
        Assert.Equal("hi", _tokenizer.Decode([1, hi[0], 2, hi[1], 0, 0, 120]));
    }

    [Fact]
    public void Decode_rejects_negative_ids() => Assert.Throws<ArgumentOutOfRangeException>(() => _tokenizer.Decode([5, -1]));

    [Theory]
    [InlineData("abé", "é", "position 2")]
    [InlineData("a\tb", "U+0009", "position 1")]
    public void Unknown_character_names_the_character_and_position(string text, string character, string position)
    {
        var error = Assert.Throws<ArgumentException>(() => _tokenizer.Encode(text));
        Assert.Contains(character, error.Message);
        Assert.Contains(position, error.Message);
    }

    [Fact]
    public void CanEncode_agrees_with_Encode()
    {
        Assert.True(CharTokenizer.CanEncode("12+3=\nabc|~ "));
        Assert.False(CharTokenizer.CanEncode("tab\there"));
        Assert.False(CharTokenizer.CanEncode("✓"));
    }

    [Fact]
    public void Factory_gives_the_char_tokenizer_for_char() => Assert.IsType<CharTokenizer>(TokenizerFiles.Create("char"));
}
