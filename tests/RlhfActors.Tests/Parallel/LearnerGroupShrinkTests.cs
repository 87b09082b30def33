using System.Runtime.InteropServices;
using Orleans.TestingHost;
using RlhfActors.Abstractions;
using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Silo.Hosting;
using RlhfActors.Tests.Cli;
using RlhfActors.Tests.Grains;

namespace RlhfActors.Tests.Parallel;

/// <summary>
/// A rank's silo goes away mid-run and no device is free for a replacement: the surviving rank re-shards the same
/// global batches alone and the run ends with the exact step count and, up to summation order, the weights of the
/// uninterrupted group. A cluster of its own, since it stops a silo.
/// </summary>
public sealed class LearnerGroupShrinkTests : IAsyncLifetime
{
    InProcessTestCluster _cluster = null!;

    public async Task InitializeAsync()
    {
        var builder = new InProcessTestClusterBuilder(2);
        builder.ConfigureSilo((_, silo) => silo.AddRlhfRuntime());
        builder.ConfigureClient(client => client.AddRlhfClientLimits());
        _cluster = builder.Build();
        await _cluster.DeployAsync();
    }

    public async Task DisposeAsync()
    {
        await _cluster.StopAllSilosAsync();
        await _cluster.DisposeAsync();
    }

    static ExperimentConfig Config(string name) => TinyExperiment.Create(name) with
    {
        Sft = TinyExperiment.Create(name).Sft with { Steps = 5, BatchSize = 15 },
        Parallel = new ParallelSection { Learners = 2, DigestEvery = 1 },
    };

    /// <summary>How rank 1's silo goes away after step 2: not at all; mid-run; or with a checkpoint of step 2 then
    /// resumed (as the controller's recovery does when rank 0 is lost too).</summary>
    enum Loss { None, MidRun, ThenResume }

    async Task<(float[] Start, float[] End, int Steps)> Run(string name, Loss loss)
    {
        bool stopRankOnesSilo = loss != Loss.None;
        var first = _cluster.Silos[0];
        var learner = _cluster.Client.GetGrain<ILearnerGrain>(name);
        // Rank 0 on the first silo, so rank 1 takes the second (one rank per silo: no accelerators advertised).
        RequestContext.Set(Orleans.Runtime.Placement.IPlacementDirector.PlacementHintKey, first.SiloAddress);
        try { await learner.Initialize(Config(name)); }
        finally { RequestContext.Remove(Orleans.Runtime.Placement.IPlacementDirector.PlacementHintKey); }
        var start = await Weights(learner, name);
        var done = (await learner.TrainSteps(2))[^1].Step;
        using var folder = new TempFolder();
        var checkpoint = Path.Combine(folder.Path, "checkpoint-2");
        if (loss == Loss.ThenResume) await learner.SaveCheckpoint(new Abstractions.Learner.CheckpointRequest { Directory = checkpoint });
        if (stopRankOnesSilo)
        {
            var rankOne = await _cluster.Client.GetGrain<ILearnerGrain>(GrainKeys.LearnerRank(name, 1)).GetPlacement();
            Assert.NotEqual(first.SiloAddress, rankOne.Silo);
            await _cluster.StopSiloAsync(_cluster.Silos.Single(s => s.SiloAddress == rankOne.Silo));
        }
        if (loss == Loss.ThenResume)
        {
            // parallel.learners stays 2; the cluster now has one silo, so the resumed group has one rank.
            await learner.ResumeFrom(Config(name), checkpoint);
            Assert.Equal(done, await learner.GetStepsDone());
        }
        var metrics = await learner.TrainSteps(5 - done);
        Assert.Equal([3, 4, 5], metrics.Select(m => m.Step));
        return (start, await Weights(learner, name), metrics[^1].Step);
    }

    async Task<float[]> Weights(ILearnerGrain learner, string name)
    {
        await learner.PublishPolicy();
        var version = await _cluster.Client.GetGrain<IPolicyGrain>(name).GetLatest();
        return [.. version!.Weights.SelectMany(w => MemoryMarshal.Cast<byte, float>(w.Data.Span).ToArray())];
    }

    [Fact]
    public async Task Without_a_free_device_the_survivor_re_shards_the_same_batches_and_finishes_the_run()
    {
        var straight = await Run("shrink-straight", Loss.None);
        var shrunk = await Run("shrink-lost", Loss.MidRun);
        Assert.Equal(5, shrunk.Steps);
        double moved = GroupAssert.Distance(straight.End, straight.Start), apart = GroupAssert.Distance(straight.End, shrunk.End);
        Assert.True(apart <= 1e-3 * moved, $"the shrunk group is {apart:E2} from the uninterrupted one, which moved the weights {moved:E2}");
        Assert.Equal(straight.Start, shrunk.Start);
    }

    [Fact]
    public async Task A_resume_on_a_cluster_with_fewer_devices_goes_on_with_fewer_ranks_over_the_same_batches()
    {
        var straight = await Run("narrow-straight", Loss.None);
        var resumed = await Run("narrow-resumed", Loss.ThenResume);
        Assert.Equal(5, resumed.Steps);
        double moved = GroupAssert.Distance(straight.End, straight.Start), apart = GroupAssert.Distance(straight.End, resumed.End);
        Assert.True(apart <= 1e-3 * moved, $"the resumed one-rank group is {apart:E2} from the uninterrupted pair, which moved the weights {moved:E2}");
    }
}
