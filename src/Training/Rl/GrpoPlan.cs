using RlhfActors.Training.Data;
using RlhfActors.Training.Rollouts;
using RlhfActors.Training.Sft;
using RlhfActors.Training.Tasks;

namespace RlhfActors.Training.Rl;

/// <summary>
/// What one GRPO step samples, decided the same way by the in-process <see cref="GrpoLoop"/> and by the grain
/// pipeline's controller, so that both train on the same prompts with the same sampling seeds: prompts come in
/// shuffled epochs (stable seed), a step's prompts are split into contiguous shards (one per sampler), and shard
/// <c>i</c> of step <c>t</c> samples with seed <see cref="ShardSeed"/>(seed, t, i).
/// </summary>
public sealed class GrpoPlan
{
    readonly EpochSampler<PromptCompletion> prompts;
    readonly int seed;

    public GrpoPlan(IReadOnlyList<PromptCompletion> prompts, int seed)
    {
        // Its own stream, so GRPO's prompt order does not repeat the SFT warm-up's example order.
        this.prompts = new EpochSampler<PromptCompletion>(prompts, StableSeed.Derive(seed, 0x6770));
        this.seed = seed;
    }

    /// <summary>The next <paramref name="count"/> prompts.</summary>
    public PromptCompletion[] NextPrompts(int count) => prompts.Next(count);

    /// <summary>Where the prompt stream stands: taken before a step draws its prompts, so that a step abandoned before
    /// anything of it was applied (a reward server outage) draws the same prompts again when it is retried.</summary>
    public (int Epoch, int Cursor) Position => (prompts.Epoch, prompts.Cursor);

    public void Rewind((int Epoch, int Cursor) position) => prompts.Restore(position.Epoch, position.Cursor);

    /// <summary>Seed of shard <paramref name="shard"/> of step <paramref name="step"/> (0-based GRPO step).</summary>
    public int ShardSeed(int step, int shard) => StableSeed.Derive(StableSeed.Derive(seed, step), shard);

    /// <summary>Contiguous, near-equal shards (the first ones one longer); never an empty shard.</summary>
    public static IReadOnlyList<T[]> Split<T>(IReadOnlyList<T> items, int shards)
    {
        if (shards < 1) throw new ArgumentOutOfRangeException(nameof(shards), shards, "at least one shard");
        shards = Math.Min(shards, items.Count);
        var result = new List<T[]>(shards);
        int start = 0;
        for (int i = 0; i < shards; i++)
        {
            int length = items.Count / shards + (i < items.Count % shards ? 1 : 0);
            result.Add(items.Skip(start).Take(length).ToArray());
            start += length;
        }
        return result;
    }

    // Dynamic sampling's two rules as row numbers: the in-process loop applies them to its RolloutBatch and the grain
    // controller to the rollouts' wire record, so both keep exactly the same rows.

    /// <summary>Rows of the first <paramref name="groups"/> groups of a batch of <paramref name="count"/> rows (dynamic
    /// sampling's refills may overshoot the step's prompt count).</summary>
    public static int[] FirstGroupRows(int count, int groupSize, int groups) =>
        Enumerable.Range(0, Math.Min(count, groups * groupSize)).ToArray();

    /// <summary>DAPO dynamic sampling: rows of the groups whose rewards are not all equal, in order (the others have
    /// zero advantage and give no gradient).</summary>
    public static int[] RowsWithSignal(IReadOnlyList<double> rewards, int groupSize) =>
        Enumerable.Range(0, rewards.Count / groupSize)
            .Where(group => Enumerable.Range(1, groupSize - 1).Any(j => rewards[group * groupSize + j] != rewards[group * groupSize]))
            .SelectMany(group => Enumerable.Range(group * groupSize, groupSize))
            .ToArray();

    /// <summary>The values at <paramref name="rows"/>, in that order.</summary>
    public static double[] Pick(IReadOnlyList<double> values, IReadOnlyList<int> rows) => rows.Select(r => values[r]).ToArray();
}
