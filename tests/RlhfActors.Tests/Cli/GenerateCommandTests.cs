namespace RlhfActors.Tests.Cli;

/// <summary><c>rlhf generate</c> argument checking; each case exits 2 before any model is loaded.</summary>
public sealed class GenerateCommandTests : IDisposable
{
    readonly TempFolder _folder = new();

    public GenerateCommandTests()
    {
        // A folder that looks like a model (config.json) but has no tokenizer.
        _folder.Write("config.json", """
            {"model_type": "llama", "vocab_size": 40, "hidden_size": 16, "intermediate_size": 32,
             "num_hidden_layers": 1, "num_attention_heads": 2, "eos_token_id": 1}
            """);
    }

    public void Dispose() => _folder.Dispose();

    [Theory]
    [InlineData(new[] { "generate", "--ids", "1,2" }, "--model")]
    [InlineData(new[] { "generate", "--model", "{model}" }, "give exactly one of --prompt and --ids")]
    [InlineData(new[] { "generate", "--model", "{model}", "--prompt", "hi", "--ids", "1" }, "give exactly one of --prompt and --ids")]
    [InlineData(new[] { "generate", "--model", "{model}", "--ids", "1,x,3" }, "--ids: 'x' is not a token id")]
    [InlineData(new[] { "generate", "--model", "{model}", "--ids", "1,-2" }, "--ids: '-2' is not a token id")]
    [InlineData(new[] { "generate", "--model", "{model}", "--ids", "1,99" }, "token id 99 is outside the model's vocabulary (vocab_size 40)")]
    [InlineData(new[] { "generate", "--model", "{model}", "--ids", "1", "--temperature", "0" }, "--temperature must be > 0 (got 0)")]
    [InlineData(new[] { "generate", "--model", "{model}", "--ids", "1", "--top-p", "1.5" }, "--top-p must be in (0, 1] (got 1.5)")]
    [InlineData(new[] { "generate", "--model", "{model}", "--ids", "1", "--top-k", "-1" }, "--top-k must be >= 0 (got -1)")]
    [InlineData(new[] { "generate", "--model", "{model}", "--ids", "1", "--max-new-tokens", "0" }, "--max-new-tokens must be > 0 (got 0)")]
    [InlineData(new[] { "generate", "--model", "{model}", "--ids", "1", "--dtype", "fp8" }, "fp8")]
    [InlineData(new[] { "generate", "--model", "{model}", "--prompt", "hello" }, "has no tokenizer.json; pass token ids with --ids")]
    [InlineData(new[] { "generate", "--model", "{model}/missing", "--ids", "1" }, "does not exist")]
    [InlineData(new[] { "generate", "--model", "{model}/..", "--ids", "1" }, "has no config.json")]
    public async Task Bad_arguments_exit_2_with_a_message(string[] args, string expected)
    {
        var resolved = args.Select(a => a.Replace("{model}", _folder.Path)).ToArray();

        var run = await CliRunner.RunAsync(resolved);

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Contains(expected, run.Stderr);
        Assert.Equal("", run.Stdout);
    }
}
