using RlhfActors.Tests.Model;
using RlhfActors.Training.Model;
using RlhfActors.Training.Scoring;
using static TorchSharp.torch;

namespace RlhfActors.Tests.Scoring;

public sealed class ScalarHeadModelTests
{
    static ScalarHeadModel Create(bool tied = true)
    {
        using var policy = TinyModels.Create(TinyModels.Llama(tied));
        return ScalarHeadModel.FromPolicyWeights(policy.Config, ModelFactory.ExportWeights(policy), seed: 5, ScalarType.Float32, CPU);
    }

    static readonly int[][] Prompts = [[1, 2, 3], [4, 5]];
    static readonly int[][] Completions = [[6, 7], [8, 9, 10, 11]];

    [Fact]
    public void Sequence_score_is_the_head_at_the_last_real_token_and_ignores_other_rows_padding()
    {
        using var model = Create();
        using var _ = no_grad();
        var scores = model.SequenceScores(Prompts, Completions, padId: 0).data<float>().ToArray();
        for (int b = 0; b < 2; b++)
        {
            var alone = Prompts[b].Concat(Completions[b]).Select(i => (long)i).ToArray();
            var values = model.Values(tensor(alone, new long[] { 1, alone.Length })).data<float>().ToArray();
            Assert.Equal(values[^1], scores[b], 5);
        }
    }

    [Fact]
    public void Completion_values_sit_one_column_left_of_each_token_and_are_zero_on_padding()
    {
        using var model = Create();
        using var _ = no_grad();
        var (values, mask) = model.CompletionValues(Prompts, Completions, padId: 0);
        Assert.Equal(new long[] { 2, 4 }, values.shape);
        var v = values.data<float>().ToArray();
        var m = mask.data<float>().ToArray();
        var row0 = Prompts[0].Concat(Completions[0]).Select(i => (long)i).ToArray();
        var all0 = model.Values(tensor(row0, new long[] { 1, row0.Length })).data<float>().ToArray();
        Assert.Equal(all0[2], v[0], 5);   // state after the prompt emits completion token 0
        Assert.Equal(all0[3], v[1], 5);
        Assert.Equal(0f, v[2]);
        Assert.Equal(new float[] { 1, 1, 0, 0, 1, 1, 1, 1 }, m);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Export_then_load_scores_the_same_and_holds_score_weight_but_no_lm_head(bool tied)
    {
        using var model = Create(tied);
        var weights = model.ExportWeights();
        Assert.Contains(weights, w => w.Name == ScalarHeadModel.HeadName && w.Shape.SequenceEqual(new long[] { 1, 32 }));
        Assert.DoesNotContain(weights, w => w.Name == "lm_head.weight");
        using var loaded = ScalarHeadModel.FromWeights(model.Config, weights, ScalarType.Float32, CPU);
        using var _ = no_grad();
        var a = model.SequenceScores(Prompts, Completions, 0).data<float>().ToArray();
        var b = loaded.SequenceScores(Prompts, Completions, 0).data<float>().ToArray();
        Assert.Equal(a, b);
    }

    [Fact]
    public void Trainable_parameters_are_the_body_and_head_without_an_untied_lm_head()
    {
        using var model = Create(tied: false);
        var names = model.TrainableParameters().Select(p => p.Name).ToArray();
        Assert.Contains(ScalarHeadModel.HeadName, names);
        Assert.DoesNotContain("lm_head.weight", names);
        Assert.Contains("model.layers.0.self_attn.q_proj.weight", names);
    }

    [Fact]
    public void Loading_weights_without_a_head_is_refused_by_name()
    {
        using var policy = TinyModels.Create(TinyModels.Llama());
        var e = Assert.Throws<InvalidDataException>(() =>
            ScalarHeadModel.FromWeights(policy.Config, ModelFactory.ExportWeights(policy), ScalarType.Float32, CPU));
        Assert.Contains("score.weight", e.Message);
    }
}
