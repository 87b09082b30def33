using System.Runtime.InteropServices;
using RlhfActors.Abstractions.Grains;

namespace RlhfActors.Tests.Parallel;

/// <summary>What the group tests compare: a group's gradient with one learner's (<see cref="ShardedUpdateTests"/>
/// derives the tolerance), ranks with each other, and weights by distance.</summary>
static class GroupAssert
{
    /// <summary>Of the whole batch's largest gradient element.</summary>
    public const double Tolerance = 1e-4;

    public static void SameSum(float[] whole, float[] rank, string what)
    {
        Assert.Equal(whole.Length, rank.Length);
        double scale = whole.Max(Math.Abs), worst = 0;
        for (int i = 0; i < whole.Length; i++) worst = Math.Max(worst, Math.Abs(whole[i] - rank[i]));
        Assert.True(scale > 0, $"{what}: the whole batch's gradient is zero, so the comparison would prove nothing");
        Assert.True(worst <= Tolerance * scale, $"{what}: the group's gradient differs from the whole batch's by {worst:E2}, more than {Tolerance:E0} of its largest element {scale:E2}");
    }

    /// <summary>Every rank holds rank 0's weights and gradient, bit for bit.</summary>
    public static void RanksAgree<T>((T Metrics, float[] Gradient, float[] Weights)[] ranks)
    {
        for (int r = 1; r < ranks.Length; r++)
        {
            Assert.Equal(ranks[0].Weights, ranks[r].Weights);
            Assert.Equal(ranks[0].Gradient, ranks[r].Gradient);
        }
    }

    public static double Distance(float[] a, float[] b) => Math.Sqrt(a.Zip(b, (x, y) => (double)(x - y) * (x - y)).Sum());

    /// <summary>The learner's weights as it publishes them (fp32), read back from the experiment's policy registry.</summary>
    public static async Task<float[]> PublishedWeights(IClusterClient client, ILearnerGrain learner, string experiment)
    {
        await learner.PublishPolicy();
        var version = await client.GetGrain<IPolicyGrain>(experiment).GetLatest();
        return [.. version!.Weights.SelectMany(w => MemoryMarshal.Cast<byte, float>(w.Data.Span).ToArray())];
    }
}
