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
        var buffer = new float[elements];
        var barrier = new float[ranks];
        var seconds = ImmutableArray.CreateBuilder<double>(rounds);
        var cpu = ImmutableArray.CreateBuilder<double>(rounds);
        long sent = 0;
        for (int round = 0; round < rounds; round++)
        {
            Fill(buffer, _rank);
            Fill(barrier, _rank);
            await exchange.SumAsync(barrier);
            Check(barrier, ranks, "barrier");
            long before = exchange.SentBytes;
            var cpuBefore = Environment.CpuUsage.TotalTime;
            var clock = Stopwatch.StartNew();
            await exchange.SumAsync(buffer);
            seconds.Add(clock.Elapsed.TotalSeconds);
            cpu.Add((Environment.CpuUsage.TotalTime - cpuBefore).TotalSeconds);
            sent += exchange.SentBytes - before;
            Check(buffer, ranks, $"round {round}");
        }
        LogRan(this.GetPrimaryKeyString(), rounds, elements, seconds.Sum());
        return new ExchangeProbeResult { Seconds = seconds.MoveToImmutable(), CpuSeconds = cpu.MoveToImmutable(), SentBytes = sent };
    }

    static void Fill(float[] values, int rank)
    {
        for (int i = 0; i < values.Length; i++) values[i] = (rank + 1) * (i % Period + 1);
    }

    void Check(float[] values, int ranks, string what)
    {
        float total = ranks * (ranks + 1) / 2;
        for (int i = 0; i < values.Length; i++)
            if (values[i] != total * (i % Period + 1))
                throw new InvalidOperationException($"probe rank {_rank}, {what}: element {i} of {values.Length} is {values[i]}, the sum of {ranks} ranks must be {total * (i % Period + 1)}");
    }

    public Task Deliver(GradientSegment segment)
    {
        if (_exchange is { } exchange) exchange.Deliver(segment);
        else LogSegmentDropped(this.GetPrimaryKeyString(), segment.From, segment.Round);
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
