using RlhfActors.Training.IO;

namespace RlhfActors.Tests.IO;

/// <summary>A hub id in model.init is found in the local Hugging Face cache's layout (refs/main → snapshot), and a
/// model that is not there is an error saying where it looked; nothing is downloaded.</summary>
public sealed class HubCacheTests : IDisposable
{
    readonly TempDirectory _cache = new();

    public void Dispose() => _cache.Dispose();

    string Snapshot(string repo, string revision)
    {
        var folder = Path.Combine(_cache.Path, repo, "snapshots", revision);
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "config.json"), "{}");
        return folder;
    }

    [Theory]
    [InlineData("Qwen/Qwen3-0.6B", true)]
    [InlineData("meta-llama/Llama-3.2-1B-Instruct", true)]
    [InlineData("./models/x", false)]
    [InlineData("/abs/models", false)]
    [InlineData("models", false)]
    [InlineData("a/b/c", false)]
    [InlineData("../x", false)]
    public void A_hub_id_is_two_names_and_a_path_is_not(string value, bool hubId) => Assert.Equal(hubId, HubCache.LooksLikeHubId(value));

    [Fact]
    public void Refs_main_names_the_snapshot()
    {
        Snapshot("models--Qwen--Qwen3-0.6B", "aaaa");
        var main = Snapshot("models--Qwen--Qwen3-0.6B", "bbbb");
        Directory.CreateDirectory(Path.Combine(_cache.Path, "models--Qwen--Qwen3-0.6B", "refs"));
        File.WriteAllText(Path.Combine(_cache.Path, "models--Qwen--Qwen3-0.6B", "refs", "main"), "bbbb\n");
        Assert.Equal(main, HubCache.Resolve("Qwen/Qwen3-0.6B", _cache.Path));
    }

    [Fact]
    public void A_lone_snapshot_is_taken_and_several_without_refs_are_refused()
    {
        var only = Snapshot("models--org--one", "cafe");
        Assert.Equal(only, HubCache.Resolve("org/one", _cache.Path));
        Snapshot("models--org--two", "a1");
        Snapshot("models--org--two", "b2");
        var e = Assert.Throws<DirectoryNotFoundException>(() => HubCache.Resolve("org/two", _cache.Path));
        Assert.Contains("2 snapshots", e.Message);
    }

    [Fact]
    public void A_model_not_in_the_cache_is_an_error_naming_where_it_looked()
    {
        var e = Assert.Throws<DirectoryNotFoundException>(() => HubCache.Resolve("org/missing", _cache.Path));
        Assert.Contains(Path.Combine(_cache.Path, "models--org--missing", "snapshots"), e.Message);
        Assert.Contains("nothing is downloaded", e.Message);
    }

    /// <summary>Through the config loader: model.init "org/name" becomes the cached snapshot folder, its tokenizer with
    /// it; one not cached is a config error naming the field and where it looked. (HF_HUB_CACHE is read by nothing
    /// else in the tests.)</summary>
    [Fact]
    public void The_config_loader_resolves_a_hub_id_in_model_init()
    {
        var snapshot = Snapshot("models--org--tiny", "f00d");
        File.WriteAllText(Path.Combine(snapshot, "config.json"), """{"model_type": "llama", "vocab_size": 99, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "max_position_embeddings": 32}""");
        string Yaml(string init) => Cli.TinyYaml.Text(Path.Combine(_cache.Path, "out")).Replace(Cli.TinyYaml.Model, $"model:\n  init: {init}\n  tokenizer: char\n");
        var before = Environment.GetEnvironmentVariable("HF_HUB_CACHE");
        Environment.SetEnvironmentVariable("HF_HUB_CACHE", _cache.Path);
        try
        {
            var config = RlhfActors.Client.Config.ExperimentYamlLoader.Parse(Yaml("org/tiny"), "hub.yaml");
            Assert.Equal(snapshot, config.Model.Init);
            var e = Assert.Throws<RlhfActors.Client.Config.ConfigLoadException>(() => RlhfActors.Client.Config.ExperimentYamlLoader.Parse(Yaml("org/absent"), "hub.yaml"));
            Assert.Contains(e.Errors, m => m.Contains("model.init: 'org/absent' is neither a local folder nor in the Hugging Face cache", StringComparison.Ordinal));
        }
        finally
        {
            Environment.SetEnvironmentVariable("HF_HUB_CACHE", before);
        }
    }
}
