using System.Collections.Immutable;
using System.Runtime.InteropServices;
using RlhfActors.Abstractions.Rollouts;
using RlhfActors.Grains.Rollouts;
using RlhfActors.Tests.Model;
using RlhfActors.Training.Data;
using RlhfActors.Training.Rl;
using RlhfActors.Training.Rollouts;
using RlhfActors.Training.Sampling;
using RlhfActors.Training.Tokenization;

namespace RlhfActors.Tests.Rollouts;

/// <summary><see cref="RolloutBatchMessage"/> is the one type rollouts cross grains in: the sampler's arrays reach
/// Training code at the receiving grain without a copy, and the controller's merge and filter give what the
/// in-process loop's give.</summary>
public sealed class RolloutContractTests
{
    [Fact]
    public void The_samplers_arrays_reach_the_receiving_grains_Training_code_without_a_copy()
    {
        using var model = TinyModels.Create(TinyModels.Llama() with { VocabSize = CharTokenizer.Instance.VocabSize }, std: 0.05);
        var sampled = GroupSampler.Sample(model, CharTokenizer.Instance, [new PromptCompletion("ab|", "ba")], groupSize: 3,
            new SamplingOptions { Temperature = 1.0, MaxNewTokens = 4, Seed = 1 }, policyVersion: 2);

        var message = sampled.ToMessage(seconds: 0.5);
        // The columns GroupSampler built are wrapped, not rebuilt...
        Assert.Same(sampled.CompletionIds, ImmutableCollectionsMarshal.AsArray(message.CompletionIds));
        Assert.Same(sampled.BehaviourLogProbs, ImmutableCollectionsMarshal.AsArray(message.BehaviourLogProbs));
        Assert.Same(sampled.Prompts, ImmutableCollectionsMarshal.AsArray(message.Prompts));
        // ...and the grain that receives them hands Training the same rows.
        var received = message.ToBatch();
        for (int i = 0; i < sampled.Count; i++)
        {
            Assert.Same(sampled.PromptIds[i], received.PromptIds[i]);
            Assert.Same(sampled.CompletionIds[i], received.CompletionIds[i]);
            Assert.Same(sampled.BehaviourLogProbs[i], received.BehaviourLogProbs[i]);
        }
        Assert.Equal((sampled.GroupSize, sampled.PolicyVersion), (received.GroupSize, received.PolicyVersion));
        Assert.Equal(sampled.RewardRequests(), received.RewardRequests());
    }

    [Fact]
    public void A_prompt_lines_other_columns_ride_with_its_rows_to_the_reward_functions()
    {
        using var model = TinyModels.Create(TinyModels.Llama() with { VocabSize = CharTokenizer.Instance.VocabSize }, std: 0.05);
        PromptCompletion[] prompts = [new("ab|", "ba") { Columns = """{"difficulty":1}""" }, new("cd|", "dc")];
        var items = prompts.ToPromptItems();
        var sampled = GroupSampler.Sample(model, CharTokenizer.Instance, items.ToPrompts(), groupSize: 2,
            new SamplingOptions { Temperature = 1.0, MaxNewTokens = 3, Seed = 1 }, policyVersion: 0);
        var received = sampled.ToMessage(seconds: 0).ToBatch();
        Assert.Equal(new string?[] { """{"difficulty":1}""", """{"difficulty":1}""", null, null }, received.RewardRequests().Select(r => r.Columns).ToArray());
        // Kept through the controller's filters and merges, and padded with nulls beside a shard that has none.
        var message = sampled.ToMessage(seconds: 0);
        Assert.Equal(new string?[] { null, null }, message.Select([2, 3]).Columns.ToArray());
        var merged = RolloutBatchMessage.Concat([message, Shard(first: 5, groups: 1, version: 0, seconds: 0)]);
        Assert.Equal(new string?[] { """{"difficulty":1}""", """{"difficulty":1}""", null, null, null, null }, merged.Columns.ToArray());
        Assert.Empty(RolloutBatchMessage.Concat([Shard(0, 1, 0, 0), Shard(1, 1, 0, 0)]).Columns);
    }

    [Fact]
    public void Merged_shards_keep_row_order_the_oldest_version_and_the_summed_generation_time()
    {
        var merged = RolloutBatchMessage.Concat([Shard(first: 0, groups: 1, version: 5, seconds: 1.5), Shard(first: 1, groups: 2, version: 4, seconds: 2)]);

        Assert.Equal(3, merged.Groups);
        Assert.Equal<string>(["p0", "p0", "p1", "p1", "p2", "p2"], merged.Prompts);
        Assert.Equal(4, merged.PolicyVersion);
        Assert.Equal(3.5, merged.Seconds);
        Assert.Throws<ArgumentException>(() => RolloutBatchMessage.Concat([Shard(0, 1, 0, 0), Shard(1, 1, 0, 0) with { GroupSize = 1 }]));
    }

    [Fact]
    public void The_controllers_filters_pick_rows_of_the_wire_record()
    {
        var message = RolloutBatchMessage.Concat([Shard(first: 0, groups: 2, version: 3, seconds: 1), Shard(first: 2, groups: 2, version: 3, seconds: 1)]);
        double[] rewards = [1, 1, 0, 1, 0, 0, 1, 0];
        var rows = GrpoPlan.RowsWithSignal(rewards, message.GroupSize);
        var kept = message.Select(rows);
        var first = kept.Select(GrpoPlan.FirstGroupRows(kept.Count, kept.GroupSize, groups: 1));

        Assert.Equal<string>(["p1", "p1", "p3", "p3"], kept.Prompts);
        Assert.Equal([0.0, 1.0, 1.0, 0.0], GrpoPlan.Pick(rewards, rows));
        Assert.Equal<string>(["p1", "p1"], first.Prompts);
        // Rows are picked, not copied; the generation time stays what the whole batch cost.
        Assert.Same(message.CompletionIds[2], first.CompletionIds[0]);
        Assert.Equal(2, first.Seconds);
    }

    /// <summary><paramref name="groups"/> groups of 2 rows whose prompts are numbered from <paramref name="first"/>.</summary>
    static RolloutBatchMessage Shard(int first, int groups, long version, double seconds)
    {
        var rows = Enumerable.Range(0, groups * 2).ToArray();
        return new RolloutBatchMessage
        {
            PromptIds = [.. rows.Select(_ => new[] { 1 })],
            CompletionIds = [.. rows.Select(r => new[] { first * 2 + r })],
            BehaviourLogProbs = [.. rows.Select(_ => new[] { -1f })],
            Prompts = [.. rows.Select(r => $"p{first + r / 2}")],
            CompletionTexts = [.. rows.Select(r => $"c{first * 2 + r}")],
            References = [.. rows.Select(_ => (string?)null)],
            Truncated = [.. rows.Select(r => r % 2 == 0)],
            GroupSize = 2,
            PolicyVersion = version,
            Seconds = seconds,
        };
    }
}
