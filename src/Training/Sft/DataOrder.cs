using RlhfActors.Training.Tasks;

namespace RlhfActors.Training.Sft;

/// <summary>The order in which an epoch visits the training examples: a shuffle seeded from the experiment seed
/// and the epoch through <see cref="StableSeed"/>, so the same config trains on the same batches in every process
/// (HashCode.Combine would not: it is randomised per process).</summary>
public static class DataOrder
{
    public static int[] ForEpoch(int count, int seed, int epoch)
    {
        var indices = Enumerable.Range(0, count).ToArray();
        new Random(StableSeed.Derive(seed, 0x10000 + epoch)).Shuffle(indices);
        return indices;
    }
}
