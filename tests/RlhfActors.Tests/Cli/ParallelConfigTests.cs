using RlhfActors.Abstractions.Config;
using RlhfActors.Client.Config;

namespace RlhfActors.Tests.Cli;

/// <summary>The <c>parallel:</c> section: its values reach the config, a bad field is named with its line, and a
/// group wider than a batch (or a PPO minibatch) is refused naming the fields that disagree.</summary>
public sealed class ParallelConfigTests
{
    static string Yaml(string section) => TinyYaml.Text("/tmp/rlhf-parallel-test") + "\n" + section;

    static string[] Errors(string text)
    {
        var error = Assert.Throws<ConfigLoadException>(() => ExperimentYamlLoader.Parse(text, "group.yaml"));
        return [.. error.Errors];
    }

    [Fact]
    public void A_parallel_section_parses_and_its_absence_means_one_learner()
    {
        var config = ExperimentYamlLoader.Parse(Yaml("parallel:\n  learners: 4\n  bucket_bytes: 4096\n  digest_every: 0\n"), "group.yaml");
        Assert.Equal(new ParallelSection { Learners = 4, BucketBytes = 4096, DigestEvery = 0 }, config.Parallel);
        var alone = ExperimentYamlLoader.Parse(TinyYaml.Text("/tmp/rlhf-parallel-test"), "plain.yaml").Parallel;
        Assert.False(alone.Enabled);
    }

    [Theory]
    [InlineData("  learners: 0", "parallel.learners must be in [1, 64] (got 0)")]
    [InlineData("  learners: 65", "parallel.learners must be in [1, 64] (got 65)")]
    [InlineData("  bucket_bytes: 100", "parallel.bucket_bytes must be in [1024, 268435456]")]
    [InlineData("  digest_every: -1", "parallel.digest_every must be >= 0")]
    public void A_bad_field_is_named_with_its_line(string replacement, string expected)
    {
        var yaml = Yaml("parallel:\n  learners: 2\n  bucket_bytes: 65536\n  digest_every: 10\n");
        var line = replacement.Split(':')[0] switch
        {
            "  learners" => "  learners: 2",
            "  bucket_bytes" => "  bucket_bytes: 65536",
            _ => "  digest_every: 10",
        };
        BadField.IsNamedWithItsLine(yaml, "group.yaml", line, replacement, expected);
    }

    [Fact]
    public void A_group_wider_than_the_sft_batch_is_refused()
    {
        // TinyYaml's sft.batch_size is 16.
        var errors = Errors(Yaml("parallel:\n  learners: 17\n"));
        Assert.Contains(errors, e => e.Contains("parallel.learners must be at most sft.batch_size (16)", StringComparison.Ordinal));
    }

    const string Ppo = """
        name: tiny-ppo
        algorithm: ppo
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
        ppo:
          prompts_per_step: 8
          num_generations: 2
          num_mini_batches: 4
        """;

    [Fact]
    public void Ppo_trains_as_a_group_while_every_rank_has_a_row_of_each_minibatch()
    {
        // 8 × 2 rows in 4 minibatches: 4 rows each, so up to 4 ranks.
        Assert.Equal(4, ExperimentYamlLoader.Parse(Ppo + "\nparallel:\n  learners: 4\n", "ppo.yaml").Parallel.Learners);
        var errors = Errors(Ppo + "\nparallel:\n  learners: 5\n");
        Assert.Contains(errors, e => e.Contains("parallel.learners must be at most the rows of the smallest ppo minibatch", StringComparison.Ordinal) && e.Contains("= 4)", StringComparison.Ordinal));
    }
}
