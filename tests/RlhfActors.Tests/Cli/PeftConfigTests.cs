using RlhfActors.Abstractions.Config;
using RlhfActors.Client.Config;
using RlhfActors.Grains.Specs;

namespace RlhfActors.Tests.Cli;

/// <summary>The <c>peft:</c> section: values reach the config and the Training layer's LoraSettings per stage, and every
/// bad field is named with its file and line.</summary>
public sealed class PeftConfigTests
{
    const string Yaml = """
        name: tiny-peft
        algorithm: grpo
        model:
          init: scratch
          tokenizer: char
          config: {hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2, num_attention_heads: 4, max_position_embeddings: 32}
        data:
          task: addition
          task_parameters: {digits: 2}
        sft:
          steps: 100
        grpo:
          steps: 5
        peft:
          type: qlora
          r: 4
          alpha: 12
          dropout: 0.05
          target_modules: [q_proj, v_proj]
          double_quant: false
          stages: [grpo]
        output_dir: /tmp/rlhf-peft-config-test
        """;

    [Fact]
    public void A_peft_section_parses_and_maps_to_lora_settings_for_its_stages()
    {
        var config = ExperimentYamlLoader.Parse(Yaml, "peft.yaml");
        var p = config.Peft;
        Assert.Equal((PeftType.Qlora, 4, 12.0, 0.05, false), (p.Type, p.R, p.Alpha, p.Dropout, p.DoubleQuant));
        Assert.Equal(["q_proj", "v_proj"], p.TargetModules.ToArray());
        Assert.Null(PeftSpecs.For(config, PeftSection.SftStage));
        var grpo = PeftSpecs.For(config, PeftSection.GrpoStage)!;
        Assert.Equal((4, 12.0, 3.0, true, false), (grpo.Rank, grpo.Alpha, grpo.Scale, grpo.QuantizeBase, grpo.DoubleQuant));
        Assert.Equal(["q_proj", "v_proj"], grpo.TargetModules);
    }

    [Fact]
    public void Defaults_train_adapters_on_every_linear_layer_in_every_stage()
    {
        var text = Yaml[..Yaml.IndexOf("  r: 4", StringComparison.Ordinal)].Replace("type: qlora", "type: lora") + "output_dir: /tmp/x\n";
        var config = ExperimentYamlLoader.Parse(text, "peft.yaml");
        var sft = PeftSpecs.For(config, PeftSection.SftStage)!;
        Assert.Equal((8, 16.0, false), (sft.Rank, sft.Alpha, sft.QuantizeBase));
        Assert.Equal(Training.Peft.LoraSettings.AllLinear, sft.TargetModules);
        Assert.NotNull(PeftSpecs.For(config, PeftSection.GrpoStage));
        var none = ExperimentYamlLoader.Parse(Yaml[..Yaml.IndexOf("peft:", StringComparison.Ordinal)] + "output_dir: /tmp/x\n", "p.yaml");
        Assert.False(none.Peft.Enabled);
        Assert.Null(PeftSpecs.For(none, PeftSection.GrpoStage));
    }

    [Theory]
    [InlineData("  type: qlora", "  type: dora", "peft.type must be one of: none, lora, qlora (got 'dora')")]
    [InlineData("  r: 4", "  r: 0", "peft.r must be > 0 (got 0)")]
    [InlineData("  alpha: 12", "  alpha: -2", "peft.alpha must be > 0 (got -2)")]
    [InlineData("  dropout: 0.05", "  dropout: 1.5", "peft.dropout must be in [0, 1)")]
    [InlineData("  target_modules: [q_proj, v_proj]", "  target_modules: [q_proj, lm_head]", "'lm_head' is not a linear layer of this decoder")]
    [InlineData("  stages: [grpo]", "  stages: [ppo]", "peft.stages: 'ppo' is not a stage of this grpo run")]
    [InlineData("  stages: [grpo]", "  stages: [sft]", "a GRPO stage after a PEFT warm-up must use adapters too")]
    [InlineData("  target_modules: [q_proj, v_proj]", "  target_modules: q_proj", "peft.target_modules must be a list of names")]
    public void A_bad_peft_field_is_named_with_its_line(string line, string replacement, string expected) =>
        BadField.IsNamedWithItsLine(Yaml, "peft.yaml", line, replacement, expected);
}
