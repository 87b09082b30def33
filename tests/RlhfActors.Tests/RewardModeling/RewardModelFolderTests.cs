using TorchSharp;
using System.Text.Json;
using RlhfActors.Tests.Data;
using RlhfActors.Training.IO;
using RlhfActors.Training.Model;
using RlhfActors.Training.RewardModeling;
using RlhfActors.Training.Tokenization;
using static TorchSharp.torch;

namespace RlhfActors.Tests.RewardModeling;

public sealed class RewardModelFolderTests : IDisposable
{
    readonly TempDirectory dir = new();
    public void Dispose() => dir.Dispose();

    static readonly (string, string)[] Texts = [("1+2=", "3"), ("1+2=", "4"), ("9+9=", "18"), ("0+0=", "")];

    [Fact]
    public void Save_then_load_scores_identically_and_writes_a_sequence_classification_config()
    {
        using var model = RewardModelTrainerTests.FreshModel();
        RewardModelFolder.Write(dir.Path, model, CharTokenizer.Instance);
        using var loaded = RewardModelFolder.Read(dir.Path, ScalarType.Float32, CPU);
        var tokenizer = TokenizerFiles.Create(dir.Path);
        var expected = new RewardModelScorer(model, CharTokenizer.Instance).ScoreTexts(Texts);
        Assert.Equal(expected, new RewardModelScorer(loaded, tokenizer).ScoreTexts(Texts));
        // Another batching changes the padded width, hence float summation order: equal to rounding.
        Assert.All(new RewardModelScorer(loaded, tokenizer, batchSize: 3).Score(Texts.Select(t => t.Item1).ToArray(), Texts.Select(t => t.Item2).ToArray()).Zip(expected),
            s => Assert.Equal(s.Second, s.First, 5));

        using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir.Path, HfModelFolder.ConfigFile)));
        Assert.Equal("LlamaForSequenceClassification", config.RootElement.GetProperty("architectures")[0].GetString());
        Assert.Equal(1, config.RootElement.GetProperty("num_labels").GetInt32());
        Assert.Equal(CharTokenizer.Pad, config.RootElement.GetProperty("pad_token_id").GetInt32());
    }

    [Fact]
    public void Scores_read_the_eos_after_the_completion_as_in_training()
    {
        using var model = RewardModelTrainerTests.FreshModel();
        using var _ = no_grad();
        var ids = new[] { CharTokenizer.Bos }.Concat(CharTokenizer.Instance.Encode("1+2=3")).Append(CharTokenizer.Eos).ToArray();
        var direct = model.SequenceScores([ids[..5]], [ids[5..]], CharTokenizer.Pad).ToDouble();
        Assert.Equal(direct, new RewardModelScorer(model, CharTokenizer.Instance).ScoreTexts([("1+2=", "3")])[0], 6);
    }

    [Fact]
    public void A_policy_folder_without_score_weight_is_refused_naming_the_file()
    {
        using var body = new DecoderModel(RewardModelTrainerTests.Tiny);
        body.InitializeWeights(1);
        HfModelFolder.Save(dir.Path, body.Config, ModelFactory.ExportWeights(body));
        var e = Assert.Throws<InvalidDataException>(() => RewardModelFolder.Read(dir.Path, ScalarType.Float32, CPU));
        Assert.Contains(Path.Combine(dir.Path, HfModelFolder.SingleWeightsFile), e.Message);
        Assert.Contains("score.weight", e.Message);
    }
}
