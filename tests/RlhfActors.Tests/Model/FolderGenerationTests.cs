using RlhfActors.Training.IO;
using RlhfActors.Training.Model;
using RlhfActors.Training.Sampling;

namespace RlhfActors.Tests.Model;

public sealed class FolderGenerationTests : IDisposable
{
    readonly string dir = Path.Combine(Path.GetTempPath(), "rlhf-gen-" + Guid.NewGuid().ToString("N"));
    public void Dispose() { if (Directory.Exists(dir)) Directory.Delete(dir, true); }

    [Theory]
    [InlineData("qwen2", false, 2)]
    [InlineData("llama", true, 4)]
    public void Greedy_generation_from_a_saved_hugging_face_folder_equals_the_reference_decoder(string type, bool tied, int kvHeads)
    {
        var config = TinyModels.Llama(tied, kvHeads, type);
        var prompt = new[] { 3, 14, 15, 9, 2 };
        Dictionary<string, float[]> weights;
        using (var model = TinyModels.Create(config, seed: 21))
        {
            HfModelFolder.Save(dir, config, ModelFactory.ExportWeights(model));
            weights = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.data<float>().ToArray());
        }

        var result = FolderGeneration.Generate(dir, new[] { prompt }, new SamplingOptions { Greedy = true, MaxNewTokens = 12 });

        var reference = new ReferenceLlama(config, weights);
        var sequence = prompt.ToList();
        var expected = new List<int>();
        for (int i = 0; i < 12; i++)
        {
            var last = reference.Forward(sequence)[^1];
            int next = Array.IndexOf(last, last.Max());
            expected.Add(next);
            sequence.Add(next);
        }
        Assert.Equal(expected, result.Ids[0]);
    }
}
