using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace RlhfActors.Tests.Cli;

/// <summary>
/// What a checkpoint records of where it came from, and that every command refuses a checkpoint whose files changed:
/// a tiny SFT run, a second run that starts from its checkpoint, <c>rlhf verify</c> on both, then one flipped byte.
/// </summary>
public sealed class ProvenanceTests : IDisposable
{
    readonly TempFolder _folder = new();
    public void Dispose() => _folder.Dispose();

    async Task<string> RunAsync(string name, string? init = null)
    {
        var text = TinyYaml.Text(Path.Combine(_folder.Path, name)).Replace("name: tiny-cli", $"name: {name}");
        if (init is not null)
        {
            // Start from a checkpoint: its config.json and tokenizer replace model.config and the char tokenizer.
            var start = text.IndexOf("model:", StringComparison.Ordinal);
            var end = text.IndexOf("data:", StringComparison.Ordinal);
            text = text[..start] + $"model:\n  init: {init}\n  dtype: fp32\n" + text[end..];
        }
        var run = await CliRunner.RunAsync("run", _folder.Write($"{name}.yaml", text), "--json");
        Assert.True(run.ExitCode == 0, run.ToString());
        // The result names the config hash its checkpoint records.
        var result = CliRunner.LastJson(run.Stdout);
        var checkpoint = result.GetProperty("checkpoint").GetString()!;
        var recorded = JsonDocument.Parse(File.ReadAllText(Path.Combine(checkpoint, "manifest.json"))).RootElement.GetProperty("provenance");
        Assert.Equal(recorded.GetProperty("config_sha256").GetString(), result.GetProperty("config_sha256").GetString());
        Assert.Equal(recorded.GetProperty("code_version").GetString(), result.GetProperty("code_version").GetString());
        return Directory.GetDirectories(Path.Combine(_folder.Path, name), "checkpoint-*").Single();
    }

    [Fact]
    public async Task A_checkpoint_records_its_whole_lineage_and_a_changed_byte_is_refused_everywhere()
    {
        var first = await RunAsync("first");
        var second = await RunAsync("second", init: first);

        var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(second, "manifest.json"))).RootElement.GetProperty("provenance");
        var configJson = manifest.GetProperty("config_json").GetString()!;
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(configJson))), manifest.GetProperty("config_sha256").GetString());
        // Every section, defaults included (the GRPO section of an SFT run too).
        Assert.Contains("\"grpo\":{", configJson);
        Assert.Contains("\"max_grad_norm\":1", configJson);
        Assert.Matches(@"\+[0-9a-f]{7,}", manifest.GetProperty("code_version").GetString());
        Assert.Equal("0.107.0", manifest.GetProperty("torchsharp_version").GetString()![..7]);
        Assert.Matches(@"^\d+\.\d+", manifest.GetProperty("libtorch_version").GetString());
        var inputs = JsonDocument.Parse(manifest.GetProperty("inputs_sha256_json").GetString()!).RootElement;
        var weights = Path.Combine(first, "model.safetensors");
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(weights))),
            inputs.GetProperty("model.init").GetProperty("model.safetensors").GetString());

        var verify = await CliRunner.RunAsync("verify", Path.Combine(_folder.Path, "second"));
        Assert.True(verify.ExitCode == 0, verify.ToString());
        Assert.Contains($"{second}: verified", verify.Stdout);
        Assert.Contains($"← model.init {first}: unchanged", verify.Stdout);
        Assert.Contains($"{first}: verified", verify.Stdout);
        var json = CliRunner.LastJson((await CliRunner.RunAsync("verify", second, "--json")).Stdout);
        Assert.True(json.GetProperty("intact").GetBoolean());
        Assert.Equal(30, json.GetProperty("inputs")[0].GetProperty("origin").GetProperty("step").GetInt32());

        // One byte of the first run's weights changes.
        var bytes = File.ReadAllBytes(weights);
        bytes[^3] ^= 0x40;
        File.WriteAllBytes(weights, bytes);

        var verifyFirst = await CliRunner.RunAsync("verify", first);
        Assert.True(verifyFirst.ExitCode == 1, verifyFirst.ToString());
        Assert.Contains("model.safetensors SHA-256 is", verifyFirst.Stderr);
        var verifySecond = await CliRunner.RunAsync("verify", second);
        Assert.True(verifySecond.ExitCode == 1, verifySecond.ToString());
        Assert.Contains($"← model.init {first}: corrupt", verifySecond.Stdout);

        var generate = await CliRunner.RunAsync("generate", "--model", first, "--ids", "1,2", "--json");
        Assert.True(generate.ExitCode == 2, generate.ToString());
        Assert.Contains("model.safetensors SHA-256 is", generate.Stderr);
        Assert.Equal("", generate.Stdout);

        var export = await CliRunner.RunAsync("export", first, "--out", Path.Combine(_folder.Path, "exported"));
        Assert.True(export.ExitCode == 2, export.ToString());

        var text = TinyYaml.Text(Path.Combine(_folder.Path, "third"));
        text = text[..text.IndexOf("model:", StringComparison.Ordinal)] + $"model:\n  init: {first}\n" + text[text.IndexOf("data:", StringComparison.Ordinal)..];
        var third = await CliRunner.RunAsync("run", _folder.Write("third.yaml", text));
        Assert.True(third.ExitCode == 2, third.ToString());
        Assert.Contains("model.init: checkpoint", third.Stderr);
        Assert.Contains("SHA-256 is", third.Stderr);
        Assert.DoesNotContain("   at ", third.Stderr);
        Assert.False(Directory.Exists(Path.Combine(_folder.Path, "third")));
    }

    [Fact]
    public async Task A_plain_model_folder_has_its_digests_printed()
    {
        _folder.Write("config.json", """{"model_type": "llama", "vocab_size": 40, "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2}""");
        var run = await CliRunner.RunAsync("verify", _folder.Path);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("without a manifest", run.Stdout);
        Assert.Contains(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(_folder.Path, "config.json")))), run.Stdout);
    }
}
