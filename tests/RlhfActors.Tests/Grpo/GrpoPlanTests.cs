using RlhfActors.Training.Data;
using RlhfActors.Training.Rl;
using RlhfActors.Training.Rollouts;

namespace RlhfActors.Tests.Grpo;

public sealed class GrpoPlanTests
{
    [Fact]
    public void Split_gives_contiguous_near_equal_shards_and_never_an_empty_one()
    {
        var items = Enumerable.Range(0, 7).ToArray();
        var shards = GrpoPlan.Split(items, 3);
        Assert.Equal([[0, 1, 2], [3, 4], [5, 6]], shards);
        Assert.Equal(2, GrpoPlan.Split(new[] { 1, 2 }, 5).Count);
    }

    [Fact]
    public void The_same_seed_plans_the_same_prompts_and_shard_seeds()
    {
        var prompts = Enumerable.Range(0, 50).Select(i => new PromptCompletion($"{i}=", $"{i}")).ToArray();
        var a = new GrpoPlan(prompts, 11);
        var b = new GrpoPlan(prompts, 11);
        Assert.Equal(a.NextPrompts(20), b.NextPrompts(20));
        Assert.Equal(a.ShardSeed(3, 1), b.ShardSeed(3, 1));
        Assert.NotEqual(a.ShardSeed(3, 0), a.ShardSeed(3, 1));
        Assert.NotEqual(a.ShardSeed(3, 0), a.ShardSeed(4, 0));
    }

    [Fact]
    public void Dynamic_sampling_keeps_only_groups_whose_rewards_differ()
    {
        var batch = Batch(groups: 3, groupSize: 2, version: 4);
        double[] rewards = [1, 1, 0, 1, 0, 0];
        var rows = GrpoPlan.RowsWithSignal(rewards, batch.GroupSize);
        var kept = batch.Select(rows);
        Assert.Equal(1, kept.Groups);
        Assert.Equal(["p1", "p1"], kept.Prompts);
        Assert.Equal([0.0, 1.0], GrpoPlan.Pick(rewards, rows));
    }

    [Fact]
    public void Concatenated_shards_keep_row_order_and_the_oldest_policy_version()
    {
        var merged = RolloutBatch.Concat([Batch(1, 2, version: 5), Batch(2, 2, version: 4)]);
        Assert.Equal(6, merged.Count);
        Assert.Equal(4, merged.PolicyVersion);
        Assert.Equal(["p0", "p0", "p0", "p0", "p1", "p1"], merged.Prompts);
        Assert.Throws<ArgumentException>(() => RolloutBatch.Concat([Batch(1, 2, 0), Batch(1, 3, 0)]));
    }

    static RolloutBatch Batch(int groups, int groupSize, long version)
    {
        int n = groups * groupSize;
        var rows = Enumerable.Range(0, n).ToArray();
        return new RolloutBatch(rows.Select(_ => new[] { 1 }).ToArray(), rows.Select(r => new[] { r }).ToArray(),
            rows.Select(_ => new[] { -1f }).ToArray(), rows.Select(r => $"p{r / groupSize}").ToArray(),
            rows.Select(r => $"c{r}").ToArray(), rows.Select(_ => (string?)"x").ToArray(), rows.Select(_ => false).ToArray(),
            groupSize, version);
    }
}
