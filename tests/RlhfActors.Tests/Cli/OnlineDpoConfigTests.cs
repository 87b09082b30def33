using RlhfActors.Abstractions.Config;
using RlhfActors.Client.Config;

namespace RlhfActors.Tests.Cli;

/// <summary>The <c>online_dpo:</c> section: the demo config loads, TRL's names reach the config, the verifier is the
/// default judge, and bad fields are named with their line.</summary>
public sealed class OnlineDpoConfigTests
{
    const string Yaml = """
        name: tiny-online-dpo
        algorithm: online_dpo
        model:
          init: scratch
          tokenizer: char
          config: {hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2, num_attention_heads: 4, max_position_embeddings: 32}
        data:
          task: addition
          task_parameters: {digits: 2}
        sft:
          steps: 100
        online_dpo:
          steps: 40
          prompts_per_step: 16
          max_new_tokens: 4
          temperature: 0.7
          missing_eos_penalty: 0.5
          samplers: 2
        dpo:
          beta: 0.2
          loss_type: ipo
          learning_rate: 0.0001
        """;

    [Fact]
    public void The_demo_config_loads()
    {
        var config = ExperimentYamlLoader.Load(ConfigLoaderTests.FindRepoFile("experiments/online-dpo-arithmetic.yaml"));
        Assert.True(config.IsOnlineDpo);
        Assert.Equal(JudgeType.Verifier, config.Judge.Type);
        Assert.False(config.TrainsRewardModel);
        Assert.Equal(config.Sft.Steps + config.OnlineDpo.Steps, config.TotalSteps);
    }

    [Fact]
    public void Values_reach_the_config()
    {
        var config = ExperimentYamlLoader.Parse(Yaml, "online.yaml");
        Assert.Equal(Algorithm.OnlineDpo, config.Algorithm);
        var o = config.OnlineDpo;
        Assert.Equal((40, 16, 4, 0.7, 0.5, 2), (o.Steps, o.PromptsPerStep, o.MaxNewTokens, o.Temperature, o.MissingEosPenalty, o.Samplers));
        Assert.Equal(JudgeType.Verifier, config.Judge.Type);   // online_dpo's default judge
        Assert.Equal(JudgeType.RewardModel, config.Rlaif.Judge.Type);
        Assert.Equal((0.2, DpoLossVariant.Ipo, 0.0001), (config.Dpo.Beta, config.Dpo.LossType, config.Dpo.LearningRate));
        Assert.Equal(140, config.TotalSteps);

        // A reward-model judge is trained first, as in RLAIF.
        var judged = ExperimentYamlLoader.Parse(Yaml.Replace("  samplers: 2\n", "  samplers: 2\n  judge:\n    type: reward_model\n"), "online.yaml");
        Assert.True(judged.TrainsRewardModel);
    }

    [Theory]
    [InlineData("  prompts_per_step: 16", "  prompts_per_step: 0", "online_dpo.prompts_per_step must be > 0")]
    [InlineData("  temperature: 0.7", "  temperature: 0", "online_dpo.temperature must be > 0")]
    [InlineData("  missing_eos_penalty: 0.5", "  missing_eos_penalty: -1", "online_dpo.missing_eos_penalty must be > 0")]
    [InlineData("  samplers: 2", "  samplers: 2\n  judge:\n    type: oracle", "online_dpo.judge.type must be one of: reward_model, decoder, http, verifier")]
    [InlineData("  steps: 40", "  stepz: 40", "unknown key 'online_dpo.stepz'")]
    public void A_bad_field_is_named_with_its_line(string line, string replacement, string expected)
    {
        if (replacement.Contains('\n'))
        {
            // The judge's type is on the last line of the replacement.
            var text = Yaml.Replace(line + "\n", replacement + "\n");
            var error = Assert.Throws<ConfigLoadException>(() => ExperimentYamlLoader.Parse(text, "online.yaml"));
            int lineNumber = text.Split('\n').ToList().FindIndex(l => l == "    type: oracle") + 1;
            Assert.Contains(error.Errors, e => e.StartsWith($"online.yaml:{lineNumber}: ", StringComparison.Ordinal) && e.Contains(expected, StringComparison.Ordinal));
            return;
        }
        BadField.IsNamedWithItsLine(Yaml, "online.yaml", line, replacement, expected);
    }

    [Fact]
    public void Missing_eos_penalty_needs_a_judge_that_scores_each_completion()
    {
        var text = Yaml.Replace("  samplers: 2\n", "  samplers: 2\n  judge:\n    type: http\n    base_url: https://judge.example/v1\n    model: j\n");
        var error = Assert.Throws<ConfigLoadException>(() => ExperimentYamlLoader.Parse(text, "online.yaml"));
        Assert.Contains(error.Errors, e => e.Contains("online_dpo.missing_eos_penalty applies to a judge that scores each completion"));
    }
}
