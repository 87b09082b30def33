using RlhfActors.Abstractions.Config;
using RlhfActors.Client.Config;
using RlhfActors.Training.Sft;

namespace RlhfActors.Tests.Distillation;

/// <summary>The <c>distill:</c> section: values reach the config with TRL's names, and bad fields (a teacher whose
/// vocabulary is not the student's above all) are refused naming the field.</summary>
public sealed class DistillConfigTests
{
    static string Yaml(string teacher, string extra = "") => $$"""
        name: tiny-distill
        algorithm: distill
        model:
          init: scratch
          tokenizer: char
          config: {{TinyDistillConfig}}
        data:
          task: addition
          task_parameters: {digits: 1}
          train_examples: 500
          eval_examples: 10
        sft:
          steps: 0
        distill:
          teacher: {{teacher}}
          steps: 3
        {{extra}}
        """;

    const string TinyDistillConfig = "{hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 4, max_position_embeddings: 32}";

    [Fact]
    public void The_distill_section_loads_with_trl_names_and_defaults()
    {
        var config = ExperimentYamlLoader.Parse(Yaml(TinyDistill.Teacher).Replace("  steps: 3", """
              steps: 3
              loss: jsd
              beta: 0.2
              lmbda: 0.25
              temperature: 0.7
              max_new_tokens: 4
              top_k: 8
            """), "distill.yaml", readInputs: true);
        Assert.Equal(Algorithm.Distill, config.Algorithm);
        Assert.Equal(DistillLossType.Jsd, config.Distill.Loss);
        Assert.Equal((0.2, 0.25, 0.7, 4, 8), (config.Distill.Beta, config.Distill.ResolvedLmbda, config.Distill.Temperature, config.Distill.MaxNewTokens, config.Distill.TopK));
        Assert.Equal(3, config.TotalSteps);
        var defaults = ExperimentYamlLoader.Parse(Yaml(TinyDistill.Teacher), "distill.yaml");
        Assert.Equal((DistillLossType.ReverseKl, 1.0, 0.9), (defaults.Distill.Loss, defaults.Distill.ResolvedLmbda, defaults.Distill.Temperature));
    }

    [Fact]
    public void Reverse_kl_refuses_dataset_completions_naming_lmbda()
    {
        var error = Assert.Throws<ConfigLoadException>(() => ExperimentYamlLoader.Parse(
            Yaml(TinyDistill.Teacher).Replace("  steps: 3", "  steps: 3\n  lmbda: 0.5"), "distill.yaml"));
        Assert.Contains("distill.lmbda", error.Message);
    }

    [Fact]
    public void A_teacher_with_another_vocabulary_is_refused_naming_distill_teacher()
    {
        // A char-tokenizer checkpoint whose model has 128 logits, not the student's 99.
        var folder = Path.Combine(Path.GetTempPath(), "rlhf-tests", $"wide-vocab-teacher-{Guid.NewGuid():N}");
        var config = ExperimentYamlLoader.Parse(Yaml(TinyDistill.Teacher), "distill.yaml");
        using (var sft = SftLearner.Create(new SftLearnerSpec(
            new ModelSource { Config = RlhfActors.Grains.Specs.ExperimentSpecs.Model(config.Model).Config! with { VocabSize = 128 } }, "char",
            [new("1+1=", "2")], RlhfActors.Grains.Specs.ExperimentSpecs.Sft(config with { Sft = new SftSection { Steps = 1 } }), 1)))
            sft.SaveCheckpoint(folder, new Dictionary<string, string>());
        try
        {
            var error = Assert.Throws<ConfigLoadException>(() => ExperimentYamlLoader.Parse(Yaml(folder), "distill.yaml", readInputs: true));
            Assert.Contains("distill.teacher", error.Message);
            Assert.Contains("vocab_size is 128", error.Message);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
