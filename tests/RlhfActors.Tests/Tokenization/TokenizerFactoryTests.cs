using RlhfActors.Tests.Data;
using RlhfActors.Training.Tokenization;

namespace RlhfActors.Tests.Tokenization;

public sealed class TokenizerFactoryTests : IDisposable
{
    readonly TempDirectory _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void A_tokenizer_json_path_or_its_folder_loads_the_bpe_tokenizer()
    {
        var path = _folder.Write("tokenizer.json", TinyTokenizerJson.Build().ToJsonString());
        foreach (var spec in new[] { path, _folder.Path })
        {
            var tokenizer = Assert.IsType<HfTokenizer>(TokenizerFiles.Create(spec));
            Assert.Equal(new[] { TinyTokenizerJson.Hello }, tokenizer.Encode("hello"));
        }
    }

    [Fact]
    public void An_unknown_spec_is_an_error_naming_it()
    {
        var error = Assert.Throws<ArgumentException>(() => TokenizerFiles.Create("gpt-17-tokenizer"));
        Assert.Contains("gpt-17-tokenizer", error.Message);
    }

    [Fact]
    public void A_folder_without_tokenizer_json_is_an_error_naming_it()
    {
        var error = Assert.Throws<ArgumentException>(() => TokenizerFiles.Create(_folder.Path));
        Assert.Contains(_folder.Path, error.Message);
    }

    [Fact]
    public void A_checkpoint_carries_the_tokenizer_files_save_pretrained_writes()
    {
        _folder.Write("tokenizer.json", TinyTokenizerJson.Build().ToJsonString());
        _folder.Write("tokenizer_config.json", "{\"eos_token\": \"<|endoftext|>\"}");
        _folder.Write("special_tokens_map.json", "{\"eos_token\": \"<|endoftext|>\"}");
        var files = TokenizerFiles.FilesFor(TokenizerFiles.Create(_folder.Path));
        Assert.Equal(["special_tokens_map.json", "tokenizer.json", "tokenizer_config.json"], files.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(File.ReadAllBytes(Path.Combine(_folder.Path, "special_tokens_map.json")), files["special_tokens_map.json"]);
    }

    [Fact]
    public void Generation_config_json_beside_the_tokenizer_adds_its_end_ids_and_travels_with_it()
    {
        _folder.Write("tokenizer.json", TinyTokenizerJson.Build().ToJsonString());
        _folder.Write("tokenizer_config.json", "{\"eos_token\": \"<|endoftext|>\"}");
        Assert.Equal([TinyTokenizerJson.EndOfText], TokenizerFiles.Create(_folder.Path).StopIds);
        _folder.Write("generation_config.json", $"{{\"eos_token_id\": [{TinyTokenizerJson.EndOfText}, {TinyTokenizerJson.ImEnd}]}}");
        var tokenizer = TokenizerFiles.Create(_folder.Path);
        Assert.Equal([TinyTokenizerJson.EndOfText, TinyTokenizerJson.ImEnd], tokenizer.StopIds);
        Assert.Contains("generation_config.json", TokenizerFiles.FilesFor(tokenizer).Keys);
    }
}
