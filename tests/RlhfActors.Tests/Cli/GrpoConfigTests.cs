using RlhfActors.Abstractions.Config;
using RlhfActors.Client.Config;

namespace RlhfActors.Tests.Cli;

/// <summary>The <c>grpo:</c> section of an experiment YAML: values reach the config, and every bad field is named
/// with its file and line (algorithm fields are checked by the Training layer's GrpoOptions).</summary>
public sealed class GrpoConfigTests
{
    const string Yaml = """
        name: tiny-grpo
        algorithm: grpo
        model:
          init: scratch
          tokenizer: char
          config: {hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 4, max_position_embeddings: 32}
        data:
          task: addition
          task_parameters: {digits: 2}
        sft:
          steps: 0
        grpo:
          steps: 50
          prompts_per_step: 8
          num_generations: 4
          learning_rate: 0.0001
          beta: 0.04
          epsilon_high: 0.28
          loss_type: dr_grpo
          kl_estimator: k2
          mode: async
          max_staleness: 2
          stale_mode: truncated_is
          samplers: 2
          rewards:
            - name: exact_match
            - name: format
              weight: 0.2
        output_dir: /tmp/rlhf-grpo-config-test
        """;

    [Fact]
    public void A_grpo_section_parses_to_the_expected_record()
    {
        var config = ExperimentYamlLoader.Parse(Yaml, "grpo.yaml");
        Assert.True(config.IsGrpo);
        Assert.Equal(0, config.Sft.Steps);
        Assert.Equal(50, config.TotalSteps);
        var g = config.Grpo;
        Assert.Equal((50, 8, 4), (g.Steps, g.PromptsPerStep, g.NumGenerations));
        Assert.Equal((1e-4, 0.04, 0.2, 0.28), (g.LearningRate, g.Beta, g.EpsilonLow, g.EpsilonHigh!.Value));
        Assert.Equal((GrpoLossType.DrGrpo, KlEstimatorType.K2, GrpoMode.Async, 2, StaleModeType.TruncatedIs, 2), (g.LossType, g.KlEstimator, g.Mode, g.MaxStaleness, g.StaleMode, g.Samplers));
        Assert.Equal(["exact_match", "format"], g.Rewards.Select(r => r.Name));
        Assert.Equal([1.0, 0.2], g.Rewards.Select(r => r.Weight));
    }

    [Theory]
    [InlineData("  loss_type: dr_grpo", "  loss_type: ppo", "grpo.loss_type must be one of: grpo, dapo, dr_grpo, cispo (got 'ppo')")]
    [InlineData("  kl_estimator: k2", "  kl_estimator: k4", "grpo.kl_estimator must be one of: k1, k2, k3 (got 'k4')")]
    [InlineData("  beta: 0.04", "  beta: -1", "grpo.beta must be >= 0 (got -1)")]
    [InlineData("  num_generations: 4", "  num_generations: 1", "grpo.num_generations must be >= 2 (got 1)")]
    [InlineData("  samplers: 2", "  samplers: 9", "grpo.samplers must be <= grpo.prompts_per_step")]
    [InlineData("  mode: async", "  mode: eager", "grpo.mode must be one of: sync, async (got 'eager')")]
    [InlineData("  steps: 50", "  steps: -3", "grpo.steps must be > 0 (got -3)")]
    [InlineData("  stale_mode: truncated_is", "  stale_mode: keep", "grpo.stale_mode must be one of: drop, truncated_is (got 'keep')")]
    public void A_bad_grpo_field_is_named_with_its_line(string line, string replacement, string expected) =>
        BadField.IsNamedWithItsLine(Yaml, "grpo.yaml", line, replacement, expected);

    /// <summary>The 2026 fields, TRL's names, under a config of their own so each can be broken alone.</summary>
    const string Yaml2026 = """
        name: tiny-grpo-2026
        algorithm: grpo
        model:
          init: scratch
          tokenizer: char
          sampler_dtype: bf16
          config: {hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 4, max_position_embeddings: 32}
        data:
          task: addition
        sft:
          steps: 0
        grpo:
          loss_type: cispo
          importance_sampling_level: sequence
          vllm_importance_sampling_mode: token_mask
          vllm_importance_sampling_clip_min: 0.5
          vllm_importance_sampling_clip_max: 2.0
          off_policy_mask_threshold: 0.5
          multi_objective_aggregation: normalize_then_sum
          rewards:
            - name: exact_match
            - name: format
              weight: 0.2
        output_dir: /tmp/rlhf-grpo-config-test
        """;

    [Fact]
    public void The_2026_fields_reach_the_training_options()
    {
        var config = ExperimentYamlLoader.Parse(Yaml2026, "grpo.yaml");
        Assert.Equal(ModelDType.Bf16, config.Model.SamplerDType);
        var options = RlhfActors.Grains.Specs.GrpoSpecs.Options(config);
        Assert.Equal(RlhfActors.Training.Rl.PolicyObjective.Cispo, options.Objective);
        Assert.Equal(RlhfActors.Training.Rl.LossAggregation.Dapo, options.Aggregation);
        Assert.Equal(5.0, options.CispoCap);                            // unset epsilon_high under cispo: ScaleRL's ε_max
        Assert.Equal(RlhfActors.Training.Rl.ImportanceSamplingLevel.Sequence, options.ImportanceSamplingLevel);
        Assert.True(options.MismatchCorrection);                        // unset: on, since the samplers compute in bf16
        Assert.Equal((RlhfActors.Training.Rl.MismatchMode.TokenMask, 0.5, 2.0), (options.MismatchMode, options.MismatchClipMin!.Value, options.MismatchClipMax!.Value));
        Assert.Equal(0.5, options.OffPolicyMaskThreshold);
        Assert.Equal(RlhfActors.Training.Rl.MultiObjectiveAggregation.NormalizeThenSum, options.MultiObjectiveAggregation);
        Assert.Equal([1.0, 0.2], options.RewardWeights);
        // Same dtypes: the correction stays off unless asked for.
        var fp32 = ExperimentYamlLoader.Parse(Yaml2026.Replace("  sampler_dtype: bf16\n", ""), "grpo.yaml");
        Assert.False(RlhfActors.Grains.Specs.GrpoSpecs.Options(fp32).MismatchCorrection);
        var asked = ExperimentYamlLoader.Parse(Yaml2026.Replace("  sampler_dtype: bf16\n", "").Replace("  loss_type: cispo\n", "  loss_type: cispo\n  vllm_importance_sampling_correction: true\n"), "grpo.yaml");
        Assert.True(RlhfActors.Grains.Specs.GrpoSpecs.Options(asked).MismatchCorrection);
    }

    [Theory]
    [InlineData("  importance_sampling_level: sequence", "  importance_sampling_level: batch", "grpo.importance_sampling_level must be one of: token, sequence (got 'batch')")]
    [InlineData("  vllm_importance_sampling_mode: token_mask", "  vllm_importance_sampling_mode: clip", "grpo.vllm_importance_sampling_mode must be one of: token_truncate, token_mask, sequence_truncate, sequence_mask (got 'clip')")]
    [InlineData("  vllm_importance_sampling_clip_max: 2.0", "  vllm_importance_sampling_clip_max: 0.5", "grpo.vllm_importance_sampling_clip_max must be >= 1")]
    [InlineData("  vllm_importance_sampling_clip_min: 0.5", "  vllm_importance_sampling_clip_min: 1.5", "grpo.vllm_importance_sampling_clip_min must be <= 1")]
    [InlineData("  off_policy_mask_threshold: 0.5", "  off_policy_mask_threshold: -1", "grpo.off_policy_mask_threshold must be >= 0")]
    [InlineData("  multi_objective_aggregation: normalize_then_sum", "  multi_objective_aggregation: average", "grpo.multi_objective_aggregation must be one of: sum_then_normalize, normalize_then_sum (got 'average')")]
    [InlineData("  importance_sampling_level: sequence", "  epsilon_high: 0.28", "grpo.epsilon_high must be >= 1 with loss_type cispo")]
    [InlineData("  sampler_dtype: bf16", "  sampler_dtype: fp8", "model.sampler_dtype must be one of: bf16, fp32 (got 'fp8')")]
    public void A_bad_2026_field_is_named_with_its_line(string line, string replacement, string expected) =>
        BadField.IsNamedWithItsLine(Yaml2026, "grpo.yaml", line, replacement, expected);

    [Fact]
    public void Normalize_then_sum_refuses_a_reward_named_twice_at_the_second()
    {
        var text = Yaml2026.Replace("    - name: format\n", "    - name: exact_match\n");
        var error = Assert.Throws<ConfigLoadException>(() => ExperimentYamlLoader.Parse(text, "grpo.yaml"));
        int second = text.Split('\n').ToList().FindLastIndex(l => l == "    - name: exact_match") + 1;
        Assert.Contains(error.Errors, e => e.StartsWith($"grpo.yaml:{second}: grpo.rewards[1].name must name each reward once under normalize_then_sum", StringComparison.Ordinal));
    }

    [Fact]
    public void An_unknown_reward_is_an_error_that_lists_the_known_ones()
    {
        var text = Yaml.Replace("    - name: format", "    - name: fromat");
        var error = Assert.Throws<ConfigLoadException>(() => ExperimentYamlLoader.Parse(text, "grpo.yaml"));
        Assert.Contains(error.Errors, e => e.Contains("unknown reward 'fromat'") && e.Contains("exact_match"));
    }

    [Fact]
    public void Async_mode_that_would_drop_every_batch_is_refused()
    {
        var text = Yaml.Replace("  max_staleness: 2\n", "  max_staleness: 0\n").Replace("  stale_mode: truncated_is\n", "  stale_mode: drop\n");
        var error = Assert.Throws<ConfigLoadException>(() => ExperimentYamlLoader.Parse(text, "grpo.yaml"));
        Assert.Contains(error.Errors, e => e.Contains("grpo.max_staleness must be >= 1 in async mode"));
    }
}
