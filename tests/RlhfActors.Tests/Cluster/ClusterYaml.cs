using RlhfActors.Tests.Cli;

namespace RlhfActors.Tests.Cluster;

/// <summary>A GRPO experiment small enough for a multi-process test (1-digit addition, the tiny decoder, 20 SFT steps
/// then 3 sync GRPO steps with two samplers and a KL term, unless told otherwise), as a YAML file the real client
/// loads.</summary>
public static class ClusterYaml
{
    public static string Grpo(string name, string outputDir, int grpoSteps = 3, int checkpointEvery = 0) => $"""
        name: {name}
        algorithm: grpo
        seed: 5
        {TinyYaml.Model}
        data:
          task: addition
          task_parameters: {"{"} digits: 1 {"}"}
          train_examples: 500
          eval_examples: 10
        sft:
          steps: 20
          batch_size: 16
          learning_rate: 0.01
          warmup_steps: 2
        grpo:
          steps: {grpoSteps}
          prompts_per_step: 4
          num_generations: 4
          learning_rate: 0.01
          beta: 0.05
          max_completion_length: 3
          samplers: 2
          mode: sync
          rewards:
            - name: exact_match
            - name: format
              weight: 0.5
        eval:
          every: 0
          max_new_tokens: 3
        checkpoint:
          every: {checkpointEvery}
        output_dir: {outputDir}
        """;

    /// <summary>The tiny SFT config (TinyYaml) as experiment <paramref name="name"/>, <paramref name="steps"/> steps
    /// long, evaluating every 500 steps and checkpointing every 100: long enough to disrupt mid-way.</summary>
    public static string Sft(string name, string outputDir, int steps)
    {
        var text = TinyYaml.Text(outputDir);
        text = TinyYaml.With(text, "name: tiny-cli", $"name: {name}");
        text = TinyYaml.With(text, "  steps: 30", $"  steps: {steps}");
        text = TinyYaml.With(text, "  every: 15", "  every: 500");   // eval
        return TinyYaml.With(text, "  every: 0", "  every: 100");    // checkpoint
    }
}
