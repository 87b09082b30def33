using RlhfActors.Abstractions;
using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Abstractions.Policy;
using RlhfActors.Abstractions.Tensors;
using RlhfActors.Client.Connection;
using RlhfActors.Grains.Policy;

namespace RlhfActors.Bench;

/// <summary>
/// Chunked weight sync at scale (issue 16): a ~1 GiB fp32 policy (16 tensors of 64 MiB) published from this process,
/// as a learner publishes, to the policy registry on one <c>rlhf silo</c> process, then pulled at once by 2 samplers on
/// two other silo processes (3 silos over Redis, deploy/local/cluster.sh; the samplers are not initialised, so they
/// pull the version as published and verify its digest without building a model), against a plain loopback TCP
/// transfer of the same bytes in this process (one socket, into fresh arrays as the staging buffers are), measured in
/// the same run. The variants alternate (sync, socket, sync, socket, …) after a warm-up of each; figures are medians
/// with the min and max. Default <c>weight_sync</c> settings (4 MiB chunks, 4 in flight). Also the SHA-256 of the
/// policy alone, which every publication and every pull pays once, and the machine's load average, since other
/// processes' load moves every figure. --quick: 256 MiB, 2 rounds.
/// </summary>
public static class SyncBench
{
    const int TensorBytes = 64 << 20;

    public static void Run(BenchOptions options) => RunAsync(options).GetAwaiter().GetResult();

    static async Task RunAsync(BenchOptions options)
    {
        var tensors = options.Quick ? 4 : 16;
        var rounds = options.Quick ? 2 : 5;
        var policy = Policy($"bench-sync-{Guid.NewGuid():N}"[..24], tensors);
        long bytes = (long)tensors * TensorBytes;

        var dir = Path.Combine(Path.GetTempPath(), "rlhf-bench-sync", Guid.NewGuid().ToString("N"));
        JsonLine.Progress("sync: starting redis-server and three silo processes, two advertising an accelerator (deploy/local/cluster.sh)");
        var url = await LocalCluster.StartAsync(dir, silos: 3, accelerators: 2);
        try
        {
            var endpoint = ClusterEndpoint.TryParse(url, out var error) ?? throw new InvalidOperationException(error);
            await using var connection = await ClusterConnection.ConnectAsync(endpoint);
            var client = connection.Client;
            var registry = client.GetGrain<IPolicyGrain>(policy.ExperimentId);
            IRolloutSamplerGrain[] samplers = [.. Enumerable.Range(0, 2).Select(i => client.GetGrain<IRolloutSamplerGrain>(GrainKeys.Sampler(policy.ExperimentId, i)))];
            var settings = new WeightSyncSection();
            try
            {
                // The registry lands on the silo without an accelerator; each sampler is pinned to one of the other two.
                await registry.GetLatestVersionNumber();
                var registrySilo = await client.GetGrain<IManagementGrain>(0).GetActivationAddress(registry);
                var others = (await LocalCluster.ActiveSilosAsync(client)).Where(s => !s.Equals(registrySilo)).ToArray();
                for (var i = 0; i < samplers.Length; i++)
                    await LocalCluster.PinnedAsync(others[i % others.Length], samplers[i].GetPlacement);
                var samples = new List<(double Publish, double Pull, double Socket)>();
                for (var round = -1; round < rounds; round++)
                {
                    JsonLine.Progress($"sync: round {(round < 0 ? "warm-up" : round + 1)}");
                    var version = policy with { Version = round + 1 };
                    var publish = await Timing.SecondsAsync(() => PolicyPublisher.PublishAsync(registry, version, settings));
                    var pull = await Timing.SecondsAsync(() => Task.WhenAll(samplers.Select(s => s.SyncPolicy(version.Version))));
                    var socket = await Timing.SecondsAsync(() => Loopback.TransferAsync([.. policy.Weights.Select(w => w.Data)]));
                    if (round >= 0) samples.Add((publish, pull, socket));
                }
                var placements = await Task.WhenAll(samplers.Select(s => s.GetPlacement()));
                var hashing = Timing.Seconds(() => PayloadDigest.Sha256(policy.Weights));
                var load = Timing.LoadAverage();

                double Gbps(double seconds, long moved = 0) => (moved == 0 ? bytes : moved) / seconds / 1e9;
                var publishRate = samples.Select(s => Gbps(s.Publish)).ToList();
                var pullRate = samples.Select(s => Gbps(s.Pull, 2 * bytes)).ToList();
                var socketRate = samples.Select(s => Gbps(s.Socket)).ToList();
                JsonLine.Write("sync", ("policy_bytes", bytes), ("rounds", rounds), ("chunk_bytes", settings.ChunkBytes), ("concurrency", settings.Concurrency),
                    ("registry_silo", registrySilo?.ToString() ?? "?"), ("sampler_silos", string.Join(" ", placements.Select(p => p.Silo.ToString()))),
                    ("publish_gbps_median", Timing.Median(publishRate)), ("publish_gbps_min", publishRate.Min()), ("publish_gbps_max", publishRate.Max()),
                    ("pull_2_samplers_gbps_median", Timing.Median(pullRate)), ("pull_2_samplers_gbps_min", pullRate.Min()), ("pull_2_samplers_gbps_max", pullRate.Max()),
                    ("loopback_gbps_median", Timing.Median(socketRate)), ("loopback_gbps_min", socketRate.Min()), ("loopback_gbps_max", socketRate.Max()),
                    ("sha256_gbps", Gbps(hashing)), ("load_average_1min", load));
                JsonLine.Write("sync-ratios", ("publish_vs_loopback", Timing.Median(publishRate) / Timing.Median(socketRate)),
                    ("pull_2_samplers_vs_loopback", Timing.Median(pullRate) / Timing.Median(socketRate)));
            }
            finally
            {
                foreach (var sampler in samplers) await sampler.Release();
                await registry.Release();
            }
        }
        finally
        {
            await LocalCluster.StopAsync(dir);
        }
    }

    /// <summary>Random fp32-sized bytes: content does not change what a transfer costs.</summary>
    static PolicyVersion Policy(string experimentId, int tensors)
    {
        var random = new Random(16);
        return new PolicyVersion
        {
            ExperimentId = experimentId,
            PublishedAt = DateTimeOffset.UtcNow,
            Weights = [.. Enumerable.Range(0, tensors).Select(i =>
            {
                var data = new byte[TensorBytes];
                random.NextBytes(data);
                return new TensorPayload { Name = $"model.layers.{i}.weight", DType = "F32", Shape = [TensorBytes / 4], Data = data };
            })],
        };
    }
}
