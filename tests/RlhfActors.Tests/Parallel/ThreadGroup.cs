using RlhfActors.Training.Parallel;

namespace RlhfActors.Tests.Parallel;

/// <summary>
/// A data-parallel group of threads in one process for Training-level tests: <see cref="IGradientReducer.SumInPlace"/>
/// waits for every rank's buffer and sums them in rank order (rank 0 first), as the grains' exchange does, so the test
/// checks the learners' sharding and normalisers apart from the transport.
/// </summary>
sealed class ThreadGroup(int ranks)
{
    static readonly TimeSpan Patience = TimeSpan.FromMinutes(2);
    readonly Barrier _barrier = new(ranks);
    readonly float[][] _slots = new float[ranks][];

    public IGradientReducer Rank(int rank) => new Member(this, rank);

    /// <summary>Runs <paramref name="body"/> once per rank, each on its own thread (a TorchSharp model belongs to
    /// the thread that uses it), and returns their results in rank order.</summary>
    public T[] Run<T>(Func<IGradientReducer, T> body)
    {
        var tasks = Enumerable.Range(0, ranks)
            .Select(r => Task.Factory.StartNew(() => body(Rank(r)), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default))
            .ToArray();
        if (!Task.WaitAll(tasks, Patience)) throw new TimeoutException("a rank of the thread group did not finish");
        return [.. tasks.Select(t => t.Result)];
    }

    sealed class Member(ThreadGroup group, int rank) : IGradientReducer
    {
        public DataShard Shard => new(rank, group._slots.Length);

        public void SumInPlace(float[] buffer)
        {
            group._slots[rank] = (float[])buffer.Clone();
            if (!group._barrier.SignalAndWait(Patience)) throw new TimeoutException("a rank never contributed");
            for (int i = 0; i < buffer.Length; i++)
            {
                float sum = group._slots[0][i];
                for (int r = 1; r < group._slots.Length; r++) sum += group._slots[r][i];
                buffer[i] = sum;
            }
            // Nobody overwrites a slot before every rank has read them all.
            if (!group._barrier.SignalAndWait(Patience)) throw new TimeoutException("a rank never summed");
        }
    }
}
