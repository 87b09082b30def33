using RlhfActors.Abstractions.Config;
using RlhfActors.Client.Config;

namespace RlhfActors.Tests.Cli;

/// <summary>The preference sections (<c>reward_model:</c>, <c>dpo:</c>, <c>ppo:</c>, <c>rlaif:</c> with its judge,
/// <c>eval.watch</c>): the shipped demo configs load, values reach the config, and bad fields are named with their
/// line.</summary>
public sealed class PreferenceConfigTests
{
    const string Yaml = """
        name: tiny-rlaif
        algorithm: rlaif
        model:
          init: scratch
          tokenizer: char
          config: {hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2, num_attention_heads: 4, max_position_embeddings: 32}
        data:
          task: addition
          task_parameters: {digits: 2}
        sft:
          steps: 100
        reward_model:
          steps: 50
          pairs:
            task_parameters: {digits: 3}
            train_examples: 500
        rlaif:
          rounds: 3
          num_candidates: 4
          judge:
            type: http
            base_url: https://judge.example/v1
            model: judge-1
            api_key_env: JUDGE_KEY
            max_concurrency: 4
            min_confidence: 0.8
            max_response_bytes: 65536
        dpo:
          beta: 0.2
          loss_type: ipo
          label_smoothing: 0.1
          rpo_alpha: 0.5
        eval:
          watch:
            - task: reverse
              task_parameters: {length: 3}
              eval_examples: 50
        """;

    [Theory]
    [InlineData("experiments/dpo-arithmetic.yaml", "dpo")]
    [InlineData("experiments/rlhf-ppo-arithmetic.yaml", "ppo")]
    [InlineData("experiments/rlaif-arithmetic.yaml", "rlaif")]
    public void The_demo_configs_load(string file, string algorithm)
    {
        var config = ExperimentYamlLoader.Load(ConfigLoaderTests.FindRepoFile(file));
        Assert.Equal(algorithm, config.Algorithm.Yaml());
        Assert.True(config.TotalSteps > config.Sft.Steps);
    }

    [Fact]
    public void Values_reach_the_config()
    {
        var config = ExperimentYamlLoader.Parse(Yaml, "rlaif.yaml");
        Assert.True(config.IsRlaif);
        Assert.False(config.TrainsRewardModel);   // an http judge needs no reward model
        Assert.Equal(3, config.RewardModel.Pairs.TaskParameters["digits"]);
        Assert.Equal(500, config.RewardModel.Pairs.TrainExamples);
        Assert.Equal(3, config.Rlaif.Rounds);
        Assert.Equal(JudgeType.Http, config.Rlaif.Judge.Type);
        Assert.Equal("JUDGE_KEY", config.Rlaif.Judge.ApiKeyEnv);
        Assert.Equal(4, config.Rlaif.Judge.MaxConcurrency);
        Assert.Equal(0.8, config.Rlaif.Judge.MinConfidence);
        Assert.Equal(65536, config.Rlaif.Judge.MaxResponseBytes);
        Assert.Equal(DpoLossVariant.Ipo, config.Dpo.LossType);
        Assert.Equal(0.1, config.Dpo.LabelSmoothing);
        Assert.Equal(0.5, config.Dpo.RpoAlpha);
        var watch = Assert.Single(config.Eval.Watch);
        Assert.Equal("reverse", watch.Name);
        Assert.Equal(3, watch.TaskParameters["length"]);
        Assert.Equal(100 + 3 * config.Rlaif.StepsPerRound, config.TotalSteps);
    }

    [Theory]
    [InlineData("    type: http", "    type: oracle", "rlaif.judge.type must be one of: reward_model, decoder, http")]
    [InlineData("    base_url: https://judge.example/v1", "    base_url: judge.example", "rlaif.judge.base_url must be an http(s) URL")]
    [InlineData("  num_candidates: 4", "  num_candidates: 1", "rlaif.num_candidates must be >= 2")]
    [InlineData("  loss_type: ipo", "  loss_type: cpo", "dpo.loss_type must be one of: sigmoid, ipo, robust, simpo, orpo, kto")]
    [InlineData("  label_smoothing: 0.1", "  label_smoothing: 0.5", "dpo.label_smoothing must be in [0, 0.5)")]
    [InlineData("  rpo_alpha: 0.5", "  rpo_alpha: -1", "dpo.rpo_alpha must be >= 0 (0 = off)")]
    [InlineData("    max_concurrency: 4", "    max_concurrency: 0", "rlaif.judge.max_concurrency must be between 1 and 256")]
    [InlineData("    min_confidence: 0.8", "    min_confidence: 0.3", "rlaif.judge.min_confidence must be in [0.5, 1)")]
    [InlineData("    max_response_bytes: 65536", "    max_response_bytes: 100", "rlaif.judge.max_response_bytes must be between 1024 (1 KiB) and 1073741824 (1 GiB)")]
    [InlineData("  rounds: 3", "  roundz: 3", "unknown key 'rlaif.roundz'")]
    public void A_bad_field_is_named_with_its_line(string line, string replacement, string expected) =>
        BadField.IsNamedWithItsLine(Yaml, "rlaif.yaml", line, replacement, expected);

    [Fact]
    public void Ppo_fields_are_checked_by_name()
    {
        var text = Yaml.Replace("algorithm: rlaif", "algorithm: ppo") + "\nppo:\n  lam: 1.5\n  num_mini_batches: 0\n";
        var error = Assert.Throws<ConfigLoadException>(() => ExperimentYamlLoader.Parse(text, "ppo.yaml"));
        Assert.True(error.Errors.Any(e => e.Contains("ppo.lam must be in [0, 1]")), string.Join("\n", error.Errors));
        Assert.True(error.Errors.Any(e => e.Contains("ppo.num_mini_batches must be between 1")), string.Join("\n", error.Errors));
    }

    [Fact]
    public void A_trained_reward_model_may_be_reused_with_zero_steps()
    {
        var judged = Yaml.Replace("    type: http\n", "    type: reward_model\n");
        var folder = Directory.CreateTempSubdirectory("rlhf-rm-").FullName;
        try
        {
            var reuse = judged.Replace("  steps: 50\n", $"  steps: 0\n  init: {folder}\n");
            var config = ExperimentYamlLoader.Parse(reuse, "rlaif.yaml");
            Assert.Equal((folder, 0), (config.RewardModel.Init, config.RewardModel.Steps));

            // Without init, zero steps would leave an untrained head: refused, by field and line.
            var untrained = judged.Replace("  steps: 50\n", "  steps: 0\n");
            var error = Assert.Throws<ConfigLoadException>(() => ExperimentYamlLoader.Parse(untrained, "rlaif.yaml"));
            Assert.Contains(error.Errors, e => e.Contains("reward_model.steps must be > 0"));

            var missing = judged.Replace("  steps: 50\n", $"  steps: 0\n  init: {folder}-gone\n");
            error = Assert.Throws<ConfigLoadException>(() => ExperimentYamlLoader.Parse(missing, "rlaif.yaml"));
            Assert.Contains(error.Errors, e => e.Contains($"reward_model.init: folder '{folder}-gone' does not exist"));
        }
        finally
        {
            Directory.Delete(folder);
        }
    }

    [Fact]
    public void Adapters_are_refused_outside_sft_and_grpo_runs()
    {
        var text = Yaml.Replace("algorithm: rlaif", "algorithm: dpo") + "\npeft:\n  type: lora\n";
        var error = Assert.Throws<ConfigLoadException>(() => ExperimentYamlLoader.Parse(text, "dpo.yaml"));
        Assert.True(error.Errors.Any(e => e.Contains("peft.type: adapters are supported in sft and grpo runs")), string.Join("\n", error.Errors));
    }
}
