using RlhfActors.Abstractions.Config;
using RlhfActors.Client.Config;

namespace RlhfActors.Tests.Cli;

/// <summary>The <c>weight_sync:</c> section: its values reach the config, its defaults hold without it, and a bad
/// field is named with its file and line.</summary>
public sealed class WeightSyncConfigTests
{
    static string Yaml(string section) => TinyYaml.Text("/tmp/rlhf-weight-sync-test") + "\n" + section;

    [Fact]
    public void A_weight_sync_section_parses_and_its_absence_keeps_the_defaults()
    {
        var config = ExperimentYamlLoader.Parse(Yaml("""
            weight_sync:
              chunk_bytes: 1048576
              concurrency: 8
              delta: false
            """), "sync.yaml");
        Assert.Equal(new WeightSyncSection { ChunkBytes = 1 << 20, Concurrency = 8, Delta = false }, config.WeightSync);

        var defaults = ExperimentYamlLoader.Parse(TinyYaml.Text("/tmp/rlhf-weight-sync-test"), "plain.yaml").WeightSync;
        Assert.Equal((4 << 20, 4, true), (defaults.ChunkBytes, defaults.Concurrency, defaults.Delta));
    }

    [Theory]
    [InlineData("  chunk_bytes: 1024", "weight_sync.chunk_bytes must be between 4096 and 134217728 (a quarter of the message limit) (got 1024)")]
    [InlineData("  chunk_bytes: 268435456", "weight_sync.chunk_bytes must be between 4096 and 134217728")]
    [InlineData("  concurrency: 0", "weight_sync.concurrency must be between 1 and 64 (got 0)")]
    [InlineData("  chunk_size: 4096", "unknown key 'weight_sync.chunk_size'")]
    public void A_bad_field_is_named_with_its_line(string line, string expected)
    {
        var yaml = Yaml("weight_sync:\n  delta: true\n  concurrency: 4\n");
        BadField.IsNamedWithItsLine(yaml, "sync.yaml", "  concurrency: 4", line, expected);
    }
}
