using System.Collections.Immutable;

namespace RlhfActors.Abstractions.Learner;

/// <summary>What one rank of <c>bench allreduce</c>'s probe measured: the seconds of each timed all-reduce (the
/// barrier sums before them excluded), the CPU seconds its silo process used meanwhile (every thread: the exchange's
/// sums and copies, Orleans' serialization and sockets; what bounds the figure when the cores are shared), its minor
/// page faults meanwhile (first touches of freshly allocated memory), the garbage collections its process made
/// meanwhile (any generation), and the segment bytes it sent in them.</summary>
[GenerateSerializer, Immutable, Alias("rlhf.ExchangeProbeResult")]
public sealed record ExchangeProbeResult
{
    [Id(0)] public ImmutableArray<double> Seconds { get; init; } = [];
    [Id(1)] public ImmutableArray<double> CpuSeconds { get; init; } = [];
    [Id(2)] public ImmutableArray<long> PageFaults { get; init; } = [];
    [Id(3)] public long SentBytes { get; init; }
    [Id(4)] public ImmutableArray<int> Collections { get; init; } = [];
}
