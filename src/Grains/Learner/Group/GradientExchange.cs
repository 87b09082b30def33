using System.Collections.Concurrent;
using System.Numerics;
using System.Runtime.InteropServices;
using Orleans.Serialization.Buffers;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Abstractions.Learner;
using RlhfActors.Training.Parallel;

namespace RlhfActors.Grains.Learner.Group;

/// <summary>
/// A rank's end of its group's gradient all-reduce, by grain messages. The buffer is cut into buckets of
/// <c>parallel.bucket_bytes</c>, each bucket into one contiguous segment per rank; rank s owns segment s.
/// <list type="number">
/// <item>Reduce-scatter: every rank sends each other rank its own copy of that rank's segments.</item>
/// <item>Each owner sums its segments over the ranks in rank order (rank 0 first), so the sum is the same bits on
/// every run.</item>
/// <item>All-gather: each owner sends its summed segments to every other rank, which copy them in.</item>
/// </list>
/// Each rank sends 2(N−1)/N of the buffer's bytes and receives as much; no rank relays anyone else's data. Two
/// rounds of messages per bucket instead of a ring's 2(N−1): what a grain message costs is mostly its latency, and
/// every rank ends with the owner's very bytes, so the ranks' weights cannot drift apart.
/// <para>Then a commit, so that a rank lost mid-exchange leaves the survivors agreeing: each rank tells rank 0 it holds
/// the whole sum, and returns (its learner then applies the update) only once rank 0, having heard from every rank,
/// commits the round. A round rank 0 never committed is applied by no one; one it committed is applied by every rank
/// that survives, since rank 0's abort names the last round it committed.</para>
/// <para><see cref="SumInPlace"/> blocks its caller, the learner's device thread, in the middle of a TorchSharp step
/// (see <see cref="IGradientReducer"/>); the segments arrive through <see cref="ILearnerRankGrain.Deliver"/>, which
/// interleaves with the grain's waiting turn. <c>deliver</c> hands a segment to the rank of a key (its grain type is
/// the caller's), and must reach a method that interleaves with the rank's waiting turn.</para>
/// </summary>
public sealed class GradientExchange(Func<string, GradientSegment, Task> deliver, LearnerGroup group, int rank) : IGradientReducer
{
    /// <summary>How long a rank waits for one segment. The caller's own call is bounded by the long-call timeout of
    /// the same length; a lost rank is normally noticed sooner, by rank 0, which aborts the exchange.</summary>
    static readonly TimeSpan Patience = TimeSpan.Parse(Abstractions.Messaging.RlhfLimits.LongCallTimeout, System.Globalization.CultureInfo.InvariantCulture);

    readonly ConcurrentDictionary<(long Round, int Phase, int Bucket, int From), TaskCompletionSource<PooledBuffer>> _inbox = new();
    readonly CancellationTokenSource _abort = new();
    readonly int _ranks = group.Ranks.Length;
    string? _abortReason;
    long _round;
    // The last round rank 0 committed, as its abort told us (−1: none told).
    long _committedByAbort = -1;

    public DataShard Shard { get; } = new(rank, group.Ranks.Length);
    public LearnerGroup Group => group;

    /// <summary>Rounds this rank completed (and rank 0 committed): every surviving rank of a group counts the same.</summary>
    public long Committed => Interlocked.Read(ref _committed);
    long _committed;

    /// <summary>Bytes this rank has sent in segments, for the figures of <c>bench allreduce</c>.</summary>
    public long SentBytes => Interlocked.Read(ref _sent);
    long _sent;

    public void SumInPlace(float[] buffer) => SumAsync(buffer).GetAwaiter().GetResult();

    /// <summary>Stores a segment from another rank (from <see cref="ILearnerRankGrain.Deliver"/>).</summary>
    public void Deliver(GradientSegment segment)
    {
        var data = segment.Data;
        // A message of an earlier formation of the group, or one delivered twice: its blocks go back to the pool.
        if (segment.Generation != group.Generation || !Slot(segment.Round, segment.Phase, segment.Bucket, segment.From).TrySetResult(data))
            data.Dispose();
    }

    /// <summary>A rank's <c>Deliver</c>: hands <paramref name="segment"/> to <paramref name="exchange"/>, or, when the rank
    /// is in no group (it left, or was never formed), returns its pooled blocks and says so (false).</summary>
    public static bool DeliverTo(GradientExchange? exchange, GradientSegment segment)
    {
        if (exchange is null)
        {
            segment.Data.Dispose();
            return false;
        }
        exchange.Deliver(segment);
        return true;
    }

    /// <summary>Ends every wait of this exchange, now and later, with an error naming <paramref name="reason"/>; a
    /// rank waiting for the commit of a round up to <paramref name="committed"/> (rank 0's last commit) takes the abort
    /// as that commit.</summary>
    public void Abort(string reason, long committed = -1)
    {
        lock (_gate)
        {
            Interlocked.Exchange(ref _committedByAbort, committed);
            _abortReason ??= reason;
            _abort.Cancel();
        }
    }

    // Rank 0's commit decision and an abort never interleave: once aborted, Committed no longer moves, so the round
    // an abort names is final.
    readonly object _gate = new();

    public async Task SumAsync(float[] buffer)
    {
        long round = Interlocked.Increment(ref _round);
        int bucketElements = Math.Max(_ranks, group.BucketBytes / sizeof(float));
        int buckets = (buffer.Length + bucketElements - 1) / bucketElements;
        var sends = new List<Task>();

        // 1. Reduce-scatter: my copy of every other rank's segments, to that rank.
        for (int b = 0; b < buckets; b++)
            for (int owner = 0; owner < _ranks; owner++)
                if (owner != rank) sends.Add(Send(owner, round, 0, b, Slice(buffer, Range(buffer.Length, bucketElements, b, owner))));

        // 2. My segments: the ranks' copies summed in rank order; 3. sent to every other rank.
        for (int b = 0; b < buckets; b++)
        {
            var parts = new PooledBuffer[_ranks];
            try
            {
                for (int from = 0; from < _ranks; from++)
                    if (from != rank) parts[from] = await Receive(round, 0, b, from);
                SumOwned(buffer, Range(buffer.Length, bucketElements, b, rank), parts, b);
            }
            finally
            {
                foreach (var part in parts) part.Dispose();
            }
            for (int to = 0; to < _ranks; to++)
                if (to != rank) sends.Add(Send(to, round, 1, b, Slice(buffer, Range(buffer.Length, bucketElements, b, rank))));
        }

        // 4. All-gather: every other rank's summed segments.
        for (int b = 0; b < buckets; b++)
            for (int owner = 0; owner < _ranks; owner++)
            {
                if (owner == rank) continue;
                var summed = await Receive(round, 1, b, owner);
                try { CopyIn(buffer, Range(buffer.Length, bucketElements, b, owner), summed, owner, b); }
                finally { summed.Dispose(); }
            }
        await Task.WhenAll(sends);

        // 5. Commit: rank 0 hears that every rank holds the sum, then lets them all apply it.
        if (rank == 0)
        {
            for (int from = 1; from < _ranks; from++) (await Receive(round, Ready, 0, from)).Dispose();
            // The decision: from here every rank that survives applies this round (an abort names it), so rank 0
            // applies it too, whether or not each commit message arrives (a rank it cannot reach is lost anyway).
            lock (_gate)
            {
                if (_abort.IsCancellationRequested) throw Aborted();
                Interlocked.Increment(ref _committed);
            }
            for (int to = 1; to < _ranks; to++) _ = Send(to, round, Commit, 0, ReadOnlySpan<float>.Empty).ContinueWith(t => t.Exception, TaskScheduler.Default);
        }
        else
        {
            await Send(0, round, Ready, 0, ReadOnlySpan<float>.Empty);
            await ReceiveCommit(round);
            Interlocked.Increment(ref _committed);
        }
    }

    const int Ready = 2, Commit = 3;

    async Task ReceiveCommit(long round)
    {
        try
        {
            (await Receive(round, Commit, 0, 0)).Dispose();
        }
        catch (LearnerGroupException) when (Interlocked.Read(ref _committedByAbort) >= round)
        {
            // Rank 0 committed this round before the abort overtook its commit message.
        }
    }

    // Scratch for SumOwned, kept from round to round (the exchange runs one round at a time, on one thread).
    float[] _sum = [], _part = [];

    /// <summary>This rank's segment summed over the ranks' copies in rank order (its own copy from
    /// <paramref name="buffer"/>), written back into <paramref name="buffer"/>.</summary>
    void SumOwned(float[] buffer, (int Start, int Count) range, PooledBuffer[] parts, int bucket)
    {
        var own = buffer.AsSpan(range.Start, range.Count);
        var sum = Scratch(ref _sum, range.Count);
        var received = Scratch(ref _part, range.Count);
        for (int from = 0; from < _ranks; from++)
        {
            ReadOnlySpan<float> part = own;
            if (from != rank)
            {
                CheckLength(parts[from], range.Count, from, bucket, "elements");
                parts[from].CopyTo(MemoryMarshal.AsBytes(received));
                part = received;
            }
            if (from == 0) part.CopyTo(sum);
            else Add(sum, part);
        }
        sum.CopyTo(own);
    }

    static Span<float> Scratch(ref float[] array, int count)
    {
        if (array.Length < count) array = new float[count];
        return array.AsSpan(0, count);
    }

    /// <summary>sum += part, element by element (vectorised; the same IEEE additions as a scalar loop).</summary>
    static void Add(Span<float> sum, ReadOnlySpan<float> part)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
            for (; i <= sum.Length - Vector<float>.Count; i += Vector<float>.Count)
                (new Vector<float>(sum[i..]) + new Vector<float>(part[i..])).CopyTo(sum[i..]);
        for (; i < sum.Length; i++) sum[i] += part[i];
    }

    /// <summary>Segment <paramref name="owner"/> of bucket <paramref name="bucket"/>: contiguous, nearly equal runs.</summary>
    (int Start, int Count) Range(int length, int bucketElements, int bucket, int owner)
    {
        int bucketStart = bucket * bucketElements;
        int bucketLength = Math.Min(bucketElements, length - bucketStart);
        int share = bucketLength / _ranks, extra = bucketLength % _ranks;
        return (bucketStart + owner * share + Math.Min(owner, extra), share + (owner < extra ? 1 : 0));
    }

    static void CopyIn(float[] buffer, (int Start, int Count) range, PooledBuffer data, int owner, int bucket)
    {
        CheckLength(data, range.Count, owner, bucket, "summed elements");
        data.CopyTo(MemoryMarshal.AsBytes(buffer.AsSpan(range.Start, range.Count)));
    }

    static void CheckLength(PooledBuffer data, int count, int from, int bucket, string what)
    {
        if (data.Length != count * sizeof(float))
            throw new InvalidOperationException($"rank {from} sent {data.Length / (double)sizeof(float)} {what} of bucket {bucket}, expected {count}");
    }

    static ReadOnlySpan<float> Slice(float[] buffer, (int Start, int Count) range) => buffer.AsSpan(range.Start, range.Count);

    /// <summary>Sends a copy of <paramref name="data"/> in pooled blocks of its own (the message owns them).</summary>
    Task Send(int to, long round, int phase, int bucket, ReadOnlySpan<float> data)
    {
        var bytes = MemoryMarshal.AsBytes(data);
        var pooled = new PooledBuffer();
        if (bytes.Length > 0)
        {
            bytes.CopyTo(pooled.GetSpan(bytes.Length));
            pooled.Advance(bytes.Length);
        }
        Interlocked.Add(ref _sent, bytes.Length);
        return SendAsync(to, new GradientSegment { Generation = group.Generation, Round = round, Phase = phase, Bucket = bucket, From = rank, Data = pooled });
    }

    async Task SendAsync(int to, GradientSegment segment)
    {
        try
        {
            await deliver(group.Ranks[to], segment).WaitAsync(_abort.Token);
        }
        catch (OperationCanceledException) when (_abort.IsCancellationRequested)
        {
            throw Aborted();
        }
    }

    async Task<PooledBuffer> Receive(long round, int phase, int bucket, int from)
    {
        var slot = Slot(round, phase, bucket, from);
        try
        {
            var data = await slot.Task.WaitAsync(Patience, _abort.Token);
            _inbox.TryRemove((round, phase, bucket, from), out _);
            return data;
        }
        catch (OperationCanceledException) when (_abort.IsCancellationRequested)
        {
            throw Aborted();
        }
        catch (TimeoutException)
        {
            throw new LearnerGroupException($"learner rank {rank}: rank {from} sent nothing for {Patience.TotalMinutes:F0} min (exchange {round}, bucket {bucket}); the group cannot finish this update");
        }
    }

    TaskCompletionSource<PooledBuffer> Slot(long round, int phase, int bucket, int from) =>
        _inbox.GetOrAdd((round, phase, bucket, from), _ => new TaskCompletionSource<PooledBuffer>(TaskCreationOptions.RunContinuationsAsynchronously));

    LearnerGroupException Aborted() => new($"learner rank {rank}: the group's exchange was aborted: {_abortReason ?? "no reason given"}");
}

/// <summary>The learner group cannot complete an update: a rank failed, was lost with its silo, or disagrees.</summary>
public sealed class LearnerGroupException(string message) : InvalidOperationException(message);
