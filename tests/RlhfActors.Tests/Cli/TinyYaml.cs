namespace RlhfActors.Tests.Cli;

/// <summary>A small valid experiment file; tests edit single lines of it to make it invalid.</summary>
public static class TinyYaml
{
    /// <summary>The tiny decoder (2 layers, width 32) with the character tokenizer, as a top-level <c>model:</c> block.</summary>
    public const string Model = """
        model:
          init: scratch
          dtype: fp32
          tokenizer: char
          config:
            model_type: llama
            hidden_size: 32
            intermediate_size: 64
            num_hidden_layers: 2
            num_attention_heads: 4
            num_key_value_heads: 2
            max_position_embeddings: 32
            rope_theta: 10000
            tie_word_embeddings: true
        """;

    public static string Text(string outputDir) => $"""
        name: tiny-cli
        algorithm: sft
        seed: 4
        {Model}
        data:
          task: reverse
          task_parameters: {"{"} length: 3 {"}"}
          train_examples: 2000
          eval_examples: 20
        sft:
          steps: 30
          batch_size: 16
          learning_rate: 0.01
          warmup_steps: 3
          min_learning_rate_ratio: 0.1
          weight_decay: 0.1
          max_grad_norm: 1.0
          completion_only_loss: true
        eval:
          every: 15
          max_new_tokens: 5
        checkpoint:
          every: 0
        output_dir: {outputDir}
        """;

    /// <summary>The text with one line replaced; fails loudly if the line is not there.</summary>
    public static string With(string text, string line, string replacement)
    {
        var lines = text.Split('\n').ToList();
        var at = lines.FindIndex(l => l.TrimEnd() == line);
        if (at < 0) throw new ArgumentException($"line '{line}' is not in the tiny config");
        lines[at] = replacement;
        return string.Join('\n', lines);
    }

    /// <summary>1-based line number of <paramref name="line"/>.</summary>
    public static int LineOf(string text, string line) => text.Split('\n').ToList().FindIndex(l => l.TrimEnd() == line) + 1;
}
