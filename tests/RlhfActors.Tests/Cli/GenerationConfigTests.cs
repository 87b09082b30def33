using RlhfActors.Tests.Model;
using RlhfActors.Training.IO;
using RlhfActors.Training.Model;

namespace RlhfActors.Tests.Cli;

/// <summary><c>rlhf generate</c> stops at generation_config.json's eos ids too (an instruct model's end of turn, which
/// config.json does not name), and a malformed one is refused naming the file and field.</summary>
public sealed class GenerationConfigTests : IDisposable
{
    readonly TempFolder _folder = new();

    public GenerationConfigTests()
    {
        using var model = TinyModels.Create(TinyModels.Llama(), seed: 21);
        HfModelFolder.Save(_folder.Path, model.Config, ModelFactory.ExportWeights(model));
    }

    public void Dispose() => _folder.Dispose();

    async Task<int[]> GreedyIds()
    {
        var run = await CliRunner.RunAsync("generate", "--model", _folder.Path, "--ids", "3,14,15", "--greedy", "--max-new-tokens", "10", "--json");
        Assert.True(run.ExitCode == 0, run.ToString());
        return [.. CliRunner.LastJson(run.Stdout).GetProperty("ids").EnumerateArray().Select(e => e.GetInt32())];
    }

    [Fact]
    public void The_stop_ids_are_config_json_s_and_generation_config_json_s()
    {
        var config = ModelConfig.Parse("""{"model_type": "llama", "vocab_size": 16, "hidden_size": 8, "intermediate_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "eos_token_id": 128001}""", "config.json");
        Assert.Equal([128001], GenerationConfig.StopTokens(_folder.Path, config));
        File.WriteAllText(Path.Combine(_folder.Path, GenerationConfig.FileName), """{"eos_token_id": [128001, 128008, 128009], "do_sample": true}""");
        Assert.Equal([128001, 128008, 128009], GenerationConfig.StopTokens(_folder.Path, config));
    }

    [Fact]
    public async Task Generate_stops_at_an_end_id_only_generation_config_json_names()
    {
        var free = await GreedyIds();
        Assert.Equal(10, free.Length);   // config.json names no eos: nothing stops it
        // The third generated token, at its first occurrence, becomes an end id.
        int k = Array.IndexOf(free, free[2]);
        File.WriteAllText(Path.Combine(_folder.Path, GenerationConfig.FileName), $$"""{"eos_token_id": [{{free[2]}}]}""");
        var stopped = await GreedyIds();
        Assert.Equal(free[..(k + 1)], stopped);
    }

    [Fact]
    public async Task A_malformed_eos_token_id_is_refused_naming_the_file_and_field()
    {
        File.WriteAllText(Path.Combine(_folder.Path, GenerationConfig.FileName), """{"eos_token_id": "end"}""");
        var run = await CliRunner.RunAsync("generate", "--model", _folder.Path, "--ids", "3", "--greedy");
        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains("generation_config.json: field 'eos_token_id'", run.Stderr);
        Assert.DoesNotContain("   at ", run.Stderr);
    }
}
