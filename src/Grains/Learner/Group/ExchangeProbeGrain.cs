using System.Collections.Immutable;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Abstractions.Learner;
using RlhfActors.Grains.Placement;

namespace RlhfActors.Grains.Learner.Group;

/// <summary>
/// The probe of <c>bench allreduce</c>: a learner rank without a model, whose <see cref="GradientExchange"/> sums
/// a buffer of known values so its throughput can be measured across silo processes, and a wrong sum fails the bench.
/// Its exchange runs on the grain's turn (<see cref="GradientExchange.SumAsync"/>), where a learner's runs on its
/// device thread: the messages, copies and sums are the same.
/// </summary>
[AcceleratorPlacement]
public sealed partial class ExchangeProbeGrain(ILogger<ExchangeProbeGrain> logger) : Grain, IExchangeProbeGrain
{
    /// <summary>Bounds a call's work (and its 10-minute timeout): rounds per call, and a buffer of at most 2 GiB.</summary>
    const int MaxRounds = 1000, MaxElements = 1 << 29;

    /// <summary>Rank r's element i is (r + 1)·(i mod Period + 1), so the sum is N(N+1)/2·(i mod Period + 1), exact in
    /// fp32 (small integers), and a segment copied to the wrong place shows as a wrong value.</summary>
    const int Period = 251;

    GradientExchange? _exchange;
    int _rank;
    // Kept from call to call (the bench calls one round at a time): a fresh 256 MiB buffer is 65,536 page faults to
    // fill, which is the bench's time, not the exchange's.
    float[] _buffer = [];

    public Task<string> Join(LearnerGroup group)
    {
        int rank = group.Ranks.IndexOf(this.GetPrimaryKeyString());
        if (rank < 0) throw new ArgumentException($"probe '{this.GetPrimaryKeyString()}' is not a rank of the group [{string.Join(", ", group.Ranks)}]", nameof(group));
        // The factory is taken here, on the grain's turn, as a learner rank takes it (see LearnerGrain.RankGrain).
        var grains = GrainFactory;
        _exchange = new GradientExchange((key, segment) => grains.GetGrain<IExchangeProbeGrain>(key).Deliver(segment), group, rank);
        _rank = rank;
        return Task.FromResult(GrainContext.Address.SiloAddress?.ToString() ?? "?");
    }

    public async Task<ExchangeProbeResult> Run(int elements, int rounds)
    {
        var exchange = _exchange ?? throw new InvalidOperationException($"probe '{this.GetPrimaryKeyString()}' has not joined a group");
        ArgumentOutOfRangeException.ThrowIfLessThan(elements, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(elements, MaxElements);
        ArgumentOutOfRangeException.ThrowIfLessThan(rounds, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(rounds, MaxRounds);
        int ranks = exchange.Group.Ranks.Length;
        if (_buffer.Length != elements) _buffer = new float[elements];
        var buffer = _buffer;
        var barrier = new float[ranks];
        var seconds = ImmutableArray.CreateBuilder<double>(rounds);
        var cpu = ImmutableArray.CreateBuilder<double>(rounds);
        var faults = ImmutableArray.CreateBuilder<long>(rounds);
        var collections = ImmutableArray.CreateBuilder<int>(rounds);
        long sent = 0;
        for (int round = 0; round < rounds; round++)
        {
            Fill(buffer, _rank);
            Fill(barrier, _rank);
            await exchange.SumAsync(barrier);
            Check(barrier, ranks, "barrier");
            long before = exchange.SentBytes;
            var cpuBefore = Environment.CpuUsage.TotalTime;
            long faultsBefore = MinorFaults();
            int collectionsBefore = GC.CollectionCount(0);
            var clock = Stopwatch.StartNew();
            await exchange.SumAsync(buffer);
            seconds.Add(clock.Elapsed.TotalSeconds);
            cpu.Add((Environment.CpuUsage.TotalTime - cpuBefore).TotalSeconds);
            faults.Add(MinorFaults() - faultsBefore);
            collections.Add(GC.CollectionCount(0) - collectionsBefore);
            sent += exchange.SentBytes - before;
            Check(buffer, ranks, $"round {round}");
        }
        LogRan(this.GetPrimaryKeyString(), rounds, elements, seconds.Sum());
        return new ExchangeProbeResult { Seconds = seconds.MoveToImmutable(), CpuSeconds = cpu.MoveToImmutable(), PageFaults = faults.MoveToImmutable(), Collections = collections.MoveToImmutable(), SentBytes = sent };
    }

    // Period by period rather than i mod Period per element: the fill and the check of a 256 MiB buffer are outside
    // the timed sum, but on a 2-core machine they were a fifth of the silos' CPU time.
    static void Fill(float[] values, int rank)
    {
        for (int start = 0; start < values.Length; start += Period)
        {
            var run = values.AsSpan(start, Math.Min(Period, values.Length - start));
            for (int k = 0; k < run.Length; k++) run[k] = (rank + 1) * (k + 1);
        }
    }

    void Check(float[] values, int ranks, string what)
    {
        float total = ranks * (ranks + 1) / 2;
        for (int start = 0; start < values.Length; start += Period)
        {
            var run = values.AsSpan(start, Math.Min(Period, values.Length - start));
            for (int k = 0; k < run.Length; k++)
                if (run[k] != total * (k + 1))
                    throw new InvalidOperationException($"probe rank {_rank}, {what}: element {start + k} of {values.Length} is {run[k]}, the sum of {ranks} ranks must be {total * (k + 1)}");
        }
    }

    /// <summary>This process's minor page faults so far (Linux; 0 elsewhere): each is a first touch of a fresh 4 KiB
    /// page, which the kernel zeroes, the cost of allocating large arrays round after round.</summary>
    static long MinorFaults()
    {
        if (!File.Exists("/proc/self/stat")) return 0;
        // Fields after the command name, which is in parentheses and may hold spaces: state is the 3rd, minflt the 10th.
        var stat = File.ReadAllText("/proc/self/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return long.Parse(fields[7], System.Globalization.CultureInfo.InvariantCulture);
    }

    public Task Deliver(GradientSegment segment)
    {
        if (!GradientExchange.DeliverTo(_exchange, segment)) LogSegmentDropped(this.GetPrimaryKeyString(), segment.From, segment.Round);
        return Task.CompletedTask;
    }

    public Task AbortExchange(string reason, long committedRound)
    {
        _exchange?.Abort(reason, committedRound);
        return Task.CompletedTask;
    }

    public Task Leave()
    {
        _exchange?.Abort("the probe left its group");
        _exchange = null;
        DeactivateOnIdle();
        return Task.CompletedTask;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Exchange probe {Probe}: {Rounds} all-reduce(s) of {Elements} elements, {Seconds:F3} s in all")]
    private partial void LogRan(string probe, int rounds, int elements, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Exchange probe {Probe}: a segment from rank {From} (exchange {Round}) arrived outside any group and was dropped")]
    private partial void LogSegmentDropped(string probe, int from, long round);
}
