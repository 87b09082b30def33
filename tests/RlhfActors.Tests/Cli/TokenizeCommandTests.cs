using System.Text.Json;
using RlhfActors.Tests.Chat;
using RlhfActors.Tests.Data;
using RlhfActors.Tests.Tokenization;

namespace RlhfActors.Tests.Cli;

/// <summary><c>rlhf tokenize</c> on a folder holding only the real Llama-3.2 tokenizer.json and tokenizer_config.json.</summary>
public sealed class TokenizeCommandTests : IDisposable
{
    readonly TempDirectory _folder = new();
    readonly string _llama;

    public TokenizeCommandTests() => _llama = RealTokenizerFiles.Unpack("llama3_2", _folder);

    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task Text_gives_the_ids_and_tokens_with_special_tokens_unless_told_not_to()
    {
        var run = await CliRunner.RunAsync("tokenize", "--model", _llama, "--text", "Hello world", "--json");
        Assert.True(run.ExitCode == 0, run.ToString());
        var result = CliRunner.LastJson(run.Stdout);
        Assert.Equal(new[] { 128000, 9906, 1917 }, result.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(new[] { "<|begin_of_text|>", "Hello", "Ġworld" }, result.GetProperty("tokens").EnumerateArray().Select(e => e.GetString()));

        var bare = await CliRunner.RunAsync("tokenize", "--model", _llama, "--text", "Hello world", "--no-special-tokens", "--json");
        Assert.Equal(new[] { 9906, 1917 }, CliRunner.LastJson(bare.Stdout).GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()));
    }

    [Fact]
    public async Task Messages_render_the_chat_template_as_jinja2_does_and_encode_it_without_adding_tokens()
    {
        var messages = _folder.Write("chat.json", """[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"}]""");
        var run = await CliRunner.RunAsync("tokenize", "--model", _llama, "--messages", messages, "--add-generation-prompt", "--json");
        Assert.True(run.ExitCode == 0, run.ToString());
        var result = CliRunner.LastJson(run.Stdout);
        var text = result.GetProperty("text").GetString()!;
        var ids = result.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();

        var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(_llama, "tokenizer_config.json")))!;
        var context = new System.Text.Json.Nodes.JsonObject
        {
            ["messages"] = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(messages)),
            ["add_generation_prompt"] = true,
            ["bos_token"] = "<|begin_of_text|>",
            ["eos_token"] = "<|eot_id|>",
        };
        // The template prints today's date; render the reference with the CLI's clock read just now.
        var reference = Jinja2Reference.Render((string)config["chat_template"]!, [context], DateTime.Now)[0].Text;
        Assert.Equal(reference, text);
        Assert.StartsWith("<|begin_of_text|><|start_header_id|>system<|end_header_id|>", text);
        Assert.EndsWith("<|start_header_id|>assistant<|end_header_id|>\n\n", text);
        Assert.Equal(128000, ids[0]);
        Assert.Equal(1, ids.Count(id => id == 128000)); // the bos comes from the text, not added again
    }

    [Theory]
    [InlineData(new[] { "tokenize", "--model", "{model}" }, "give exactly one of --text, --text-file and --messages")]
    [InlineData(new[] { "tokenize", "--model", "{model}", "--text", "a", "--messages", "x.json" }, "give exactly one of")]
    [InlineData(new[] { "tokenize", "--model", "{model}", "--text", "a", "--add-generation-prompt" }, "--add-generation-prompt goes with --messages")]
    [InlineData(new[] { "tokenize", "--model", "{model}", "--messages", "{missing}" }, "no such file")]
    [InlineData(new[] { "tokenize", "--model", "{model}", "--messages", "{bad}" }, "messages[1].role must be a string")]
    [InlineData(new[] { "tokenize", "--model", "{model}/nowhere", "--text", "a" }, "does not exist")]
    [InlineData(new[] { "tokenize", "--model", "{empty}", "--text", "a" }, "has no tokenizer.json")]
    [InlineData(new[] { "tokenize", "--model", "{notemplate}", "--messages", "{good}" }, "has no chat template")]
    public async Task Bad_arguments_exit_2_with_a_message(string[] args, string expected)
    {
        var empty = Path.Combine(_folder.Path, "empty");
        Directory.CreateDirectory(empty);
        var noTemplate = Path.Combine(_folder.Path, "notemplate");
        Directory.CreateDirectory(noTemplate);
        File.Copy(Path.Combine(_llama, "tokenizer.json"), Path.Combine(noTemplate, "tokenizer.json"));
        var bad = _folder.Write("bad.json", """[{"role": "user", "content": "hi"}, {"content": "no role"}]""");
        var good = _folder.Write("good.json", """[{"role": "user", "content": "hi"}]""");
        var resolved = args.Select(a => a.Replace("{model}", _llama).Replace("{missing}", Path.Combine(_folder.Path, "missing.json"))
            .Replace("{bad}", bad).Replace("{good}", good).Replace("{empty}", empty).Replace("{notemplate}", noTemplate)).ToArray();

        var run = await CliRunner.RunAsync(resolved);

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Contains(expected, run.Stderr);
        Assert.DoesNotContain("   at ", run.Stderr);
    }
}
