using System.Text.Json;
using RlhfActors.Grains.Specs;
using RlhfActors.Training.Data;

namespace RlhfActors.Tests.Grains;

public sealed class DigestTests
{
    [Fact]
    public void The_config_hash_ignores_where_output_goes_and_sees_every_setting()
    {
        var a = TinyExperiment.Create("digest");
        var sameSettings = a with { OutputDir = "/elsewhere", SourceFile = "/some/file.yaml" };
        var otherLr = a with { Sft = a.Sft with { LearningRate = 0.02 } };
        var otherTask = a with { Data = a.Data with { TaskParameters = a.Data.TaskParameters.SetItem("length", 4) } };

        Assert.Equal(Digests.ConfigSha256(a), Digests.ConfigSha256(sameSettings));
        Assert.NotEqual(Digests.ConfigSha256(a), Digests.ConfigSha256(otherLr));
        Assert.NotEqual(Digests.ConfigSha256(a), Digests.ConfigSha256(otherTask));
        Assert.Matches("^[0-9a-f]{64}$", Digests.ConfigSha256(a));
    }

    [Fact]
    public void The_config_json_uses_the_yaml_keys_with_the_model_config_as_an_object()
    {
        using var json = JsonDocument.Parse(Digests.ConfigToJson(TinyExperiment.Create("digest")));
        var root = json.RootElement;
        Assert.Equal("fp32", root.GetProperty("model").GetProperty("dtype").GetString());
        Assert.Equal(32, root.GetProperty("model").GetProperty("config").GetProperty("hidden_size").GetInt32());
        Assert.Equal(3, root.GetProperty("data").GetProperty("task_parameters").GetProperty("length").GetInt32());
        Assert.Equal(0.01, root.GetProperty("sft").GetProperty("learning_rate").GetDouble());
        Assert.False(root.TryGetProperty("output_dir", out _));
    }

    [Fact]
    public void The_dataset_hash_changes_with_any_example_and_with_the_split()
    {
        IAnswerVerifier verifier = null!;
        var train = new List<PromptCompletion> { new("ab=", "ba"), new("cd=", "dc") };
        var eval = new List<PromptCompletion> { new("ef=", "fe") };
        var hash = ExperimentData.DatasetSha256(new LoadedData(train, eval, verifier));

        Assert.Equal(hash, ExperimentData.DatasetSha256(new LoadedData([.. train], [.. eval], verifier)));
        Assert.NotEqual(hash, ExperimentData.DatasetSha256(new LoadedData([train[0], new("cd=", "dd")], eval, verifier)));
        Assert.NotEqual(hash, ExperimentData.DatasetSha256(new LoadedData([train[0]], [train[1], .. eval], verifier)));
    }
}
