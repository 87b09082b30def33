using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Abstractions.Learner;
using RlhfActors.Client.Connection;

namespace RlhfActors.Bench;

/// <summary>
/// The learner group's gradient all-reduce across processes (issue 16): 3 <c>rlhf silo</c> processes over Redis
/// (deploy/local/cluster.sh), groups of 2 and 3 ranks, one rank per silo process, each rank an
/// <see cref="IExchangeProbeGrain"/> (the learner's <c>GradientExchange</c> without a model) summing a buffer of
/// known values, checked after every sum. Per buffer size and round: a plain loopback TCP transfer of the buffer's
/// bytes in this process (one connection, in blocks of the default bucket size, into fresh arrays), then every
/// group; a warm-up round first, so the variants alternate (A B C …, A B C …) and the machine's load hits them
/// alike. A sum's time is its slowest rank's, after a barrier sum so the ranks start together; GB/s of gradient per
/// rank is the buffer's bytes over that time (NCCL's algorithm bandwidth; its bus bandwidth, × 2(N−1)/N, is what
/// each rank sends). Figures are medians with the min and max. Also what all ranks send together per second (the
/// ranks share this machine's cores, as the loopback test's sender and receiver do), and the CPU seconds per GB of
/// gradient that the ranks' silo processes used, against the loopback test's (this process's): on a busy 2-core
/// machine CPU time is the steadier figure; and the bytes of fresh memory the ranks first touched (minor page
/// faults × 4 KiB) per byte of gradient. --quick: 16 MiB, the default bucket, 2 rounds.
/// </summary>
public static class AllReduceBench
{
    const int MiB = 1 << 20;

    sealed record Group(int Ranks, int BucketBytes, IExchangeProbeGrain[] Probes, string[] Silos);

    /// <summary>One timed transfer or all-reduce: wall seconds, CPU seconds and minor page faults of every process
    /// involved, and the most bytes one rank sent.</summary>
    sealed record Sample(double Seconds, double CpuSeconds, long Sent, long PageFaults = 0, int Collections = 0);

    public static void Run(BenchOptions options) => RunAsync(options).GetAwaiter().GetResult();

    static async Task RunAsync(BenchOptions options)
    {
        int rounds = options.Quick ? 2 : 5;
        int defaultBucket = new ParallelSection().BucketBytes;
        int[] sizes = options.Quick ? [16 * MiB] : [64 * MiB, 256 * MiB];
        int[] buckets = options.Quick ? [defaultBucket] : [defaultBucket, 4 * MiB];
        int[] rankCounts = [2, 3];

        var dir = Path.Combine(Path.GetTempPath(), "rlhf-bench-allreduce", Guid.NewGuid().ToString("N"));
        JsonLine.Progress("allreduce: starting redis-server and three silo processes (deploy/local/cluster.sh)");
        var url = await LocalCluster.StartAsync(dir, silos: rankCounts.Max(), accelerators: rankCounts.Max());
        try
        {
            var endpoint = ClusterEndpoint.TryParse(url, out var error) ?? throw new InvalidOperationException(error);
            await using var connection = await ClusterConnection.ConnectAsync(endpoint);
            var client = connection.Client;
            var silos = await LocalCluster.ActiveSilosAsync(client);
            if (silos.Length < rankCounts.Max()) throw new InvalidOperationException($"the cluster has {silos.Length} active silos, {rankCounts.Max()} needed");

            var run = Guid.NewGuid().ToString("N")[..8];
            var groups = new List<Group>();
            try
            {
                foreach (var ranks in rankCounts)
                    foreach (var bucket in buckets)
                        groups.Add(await FormAsync(client, silos, $"bench-allreduce-{run}-{ranks}x-b{bucket / MiB}m", ranks, bucket));

                // The loopback's source: the largest buffer's bytes, sent in default-bucket blocks.
                var source = new byte[sizes.Max()];
                new Random(16).NextBytes(source);
                var loopback = sizes.ToDictionary(s => s, _ => new List<Sample>());
                var sums = groups.SelectMany(g => sizes.Select(s => (g, s))).ToDictionary(v => v, _ => new List<Sample>());
                for (int round = -1; round < rounds; round++)
                {
                    JsonLine.Progress($"allreduce: round {(round < 0 ? "warm-up" : round + 1)}");
                    foreach (var size in sizes)
                    {
                        var blocks = Enumerable.Range(0, (size + defaultBucket - 1) / defaultBucket)
                            .Select(b => (ReadOnlyMemory<byte>)source.AsMemory(b * defaultBucket, Math.Min(defaultBucket, size - b * defaultBucket))).ToArray();
                        var cpu = Environment.CpuUsage.TotalTime;
                        var socket = await Timing.SecondsAsync(() => Loopback.TransferAsync(blocks));
                        if (round >= 0) loopback[size].Add(new Sample(socket, (Environment.CpuUsage.TotalTime - cpu).TotalSeconds, size));
                        foreach (var group in groups)
                        {
                            var sample = await SumAsync(group, size / sizeof(float));
                            if (round >= 0) sums[(group, size)].Add(sample);
                        }
                    }
                }
                Report(sums, loopback, rounds);
            }
            finally
            {
                foreach (var probe in groups.SelectMany(g => g.Probes)) await probe.Leave();
            }
        }
        finally
        {
            await LocalCluster.StopAsync(dir);
        }
    }

    /// <summary>A group of <paramref name="ranks"/> probes, rank r on silo r.</summary>
    static async Task<Group> FormAsync(IClusterClient client, SiloAddress[] silos, string name, int ranks, int bucketBytes)
    {
        var keys = Enumerable.Range(0, ranks).Select(r => $"{name}-r{r}").ToArray();
        var group = new LearnerGroup { Ranks = [.. keys], BucketBytes = bucketBytes, Generation = DateTimeOffset.UtcNow.UtcTicks };
        var probes = keys.Select(k => client.GetGrain<IExchangeProbeGrain>(k)).ToArray();
        var placed = await Task.WhenAll(probes.Select((p, r) => LocalCluster.PinnedAsync(silos[r], () => p.Join(group))));
        if (placed.Distinct().Count() != ranks) throw new InvalidOperationException($"group {name}: ranks share a silo ({string.Join(", ", placed)})");
        return new Group(ranks, bucketBytes, probes, placed);
    }

    /// <summary>One all-reduce of <paramref name="elements"/> values on every rank of <paramref name="group"/>: the
    /// slowest rank's seconds, the ranks' processes' CPU seconds together, and the most bytes a rank sent. The first rank to fail aborts the others' exchange
    /// (else they would wait for its segments until the exchange's patience ran out).</summary>
    static async Task<Sample> SumAsync(Group group, int elements)
    {
        var calls = group.Probes.Select(p => p.Run(elements, 1)).ToArray();
        var pending = new List<Task>(calls);
        while (pending.Count > 0)
        {
            var done = await Task.WhenAny(pending);
            pending.Remove(done);
            if (!done.IsFaulted) continue;
            var reason = $"a rank failed: {done.Exception!.GetBaseException().Message}";
            await Task.WhenAll(group.Probes.Select(p => p.AbortExchange(reason, -1)));
            await Task.WhenAll(calls); // throws the first failure
        }
        return new Sample(calls.Max(c => c.Result.Seconds[0]), calls.Sum(c => c.Result.CpuSeconds[0]), calls.Max(c => c.Result.SentBytes),
            calls.Sum(c => c.Result.PageFaults[0]), calls.Sum(c => c.Result.Collections[0]));
    }

    static void Report(Dictionary<(Group Group, int Size), List<Sample>> sums, Dictionary<int, List<Sample>> loopback, int rounds)
    {
        static double Gbps(long bytes, double seconds) => bytes / seconds / 1e9;
        static double CpuPerGb(List<Sample> samples, int size) => Timing.Median([.. samples.Select(s => s.CpuSeconds)]) / (size / 1e9);
        var loopbackRate = new Dictionary<int, double>();
        var loopbackCpu = new Dictionary<int, double>();
        foreach (var (size, samples) in loopback)
        {
            var rate = samples.Select(s => Gbps(size, s.Seconds)).ToList();
            loopbackRate[size] = Timing.Median(rate);
            loopbackCpu[size] = CpuPerGb(samples, size);
            JsonLine.Write("allreduce-loopback", ("buffer_bytes", (long)size), ("rounds", rounds),
                ("gbps_median", loopbackRate[size]), ("gbps_min", rate.Min()), ("gbps_max", rate.Max()), ("cpu_s_per_gb", loopbackCpu[size]));
        }
        foreach (var ((group, size), samples) in sums)
        {
            var rate = samples.Select(s => Gbps(size, s.Seconds)).ToList();
            double median = Timing.Median(rate), share = 2.0 * (group.Ranks - 1) / group.Ranks, cpu = CpuPerGb(samples, size);
            // What the machine moves in all, every rank's sends: the ranks share this machine's cores, so this is the
            // figure to hold against the loopback test's one connection.
            double allRanks = Timing.Median([.. samples.Select(s => Gbps(group.Ranks * s.Sent, s.Seconds))]);
            JsonLine.Write("allreduce", ("ranks", group.Ranks), ("buffer_bytes", (long)size), ("bucket_bytes", group.BucketBytes), ("rounds", rounds),
                ("seconds_median", Timing.Median([.. samples.Select(s => s.Seconds)])),
                ("gbps_median", median), ("gbps_min", rate.Min()), ("gbps_max", rate.Max()), ("bus_gbps_median", median * share),
                ("sent_bytes_per_rank", samples.Max(s => s.Sent)), ("sent_bytes_2_n_minus_1_over_n", (long)(share * size)),
                ("all_ranks_gbps_median", allRanks),
                ("cpu_s_per_gb", cpu), ("fresh_page_bytes_per_buffer_byte", Timing.Median([.. samples.Select(s => s.PageFaults * 4096.0 / size)])),
                ("collections_per_sum_median", Timing.Median([.. samples.Select(s => (double)s.Collections)])),
                ("vs_loopback", median / loopbackRate[size]), ("cpu_vs_loopback", cpu / loopbackCpu[size]),
                ("all_ranks_vs_loopback", allRanks / loopbackRate[size]),
                ("silos", string.Join(" ", group.Silos)));
        }
        JsonLine.Write("allreduce-env", ("load_average_1min", Timing.LoadAverage()));
    }
}
