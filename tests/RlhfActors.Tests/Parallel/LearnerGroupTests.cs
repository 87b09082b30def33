using System.Collections.Immutable;
using RlhfActors.Abstractions;
using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Abstractions.Preference;
using RlhfActors.Abstractions.Rollouts;
using RlhfActors.Tests.Grains;
using RlhfActors.Tests.Grpo;
using RlhfActors.Tests.Preference;

namespace RlhfActors.Tests.Parallel;

/// <summary>
/// A learner group of two ranks on the two silos of the test cluster, every gradient segment serialized across the
/// silo boundary: it trains the weights one learner trains on the whole batch (SFT, GRPO, DPO), repeats itself bit for
/// bit, and its ranks agree. Tolerance: <see cref="ShardedUpdateTests"/> derives why the group may differ from one
/// learner by rounding only; after a few AdamW steps we allow 1e-3 of the distance training moved the weights.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class LearnerGroupTests(ClusterFixture fixture)
{
    static ExperimentConfig Group(ExperimentConfig config, int learners) =>
        config with { Parallel = new ParallelSection { Learners = learners, DigestEvery = 2, BucketBytes = 4096 } };

    Task<float[]> PublishedWeights(ILearnerGrain learner, string experiment) => GroupAssert.PublishedWeights(fixture.Client, learner, experiment);

    static void AssertSameLosses(double[] single, double[] group, string what)
    {
        for (int i = 0; i < single.Length; i++)
            Assert.True(Math.Abs(single[i] - group[i]) <= 1e-4 * Math.Abs(single[i]), $"{what} step {i + 1}: loss {group[i]} in the group, {single[i]} alone");
    }

    static void AssertCloseRun(float[] start, float[] single, float[] group, string what)
    {
        double moved = GroupAssert.Distance(single, start), apart = GroupAssert.Distance(single, group);
        Assert.True(moved > 0, $"{what}: training did not move the weights");
        Assert.True(apart <= 1e-3 * moved, $"{what}: the group is {apart:E2} from the single learner, which moved the weights {moved:E2}");
    }

    [Fact]
    public async Task Two_ranks_on_two_silos_train_the_sft_weights_of_one_learner_and_repeat_bit_for_bit()
    {
        var runs = new List<float[]>();
        var losses = new List<double[]>();
        float[]? start = null;
        foreach (var (name, learners) in new[] { ("group-sft-1", 1), ("group-sft-2a", 2), ("group-sft-2b", 2) })
        {
            var config = Group(TinyExperiment.Create(name) with { Sft = TinyExperiment.Create(name).Sft with { Steps = 6, BatchSize = 15 } }, learners);
            var learner = fixture.Client.GetGrain<ILearnerGrain>(name);
            await learner.Initialize(config);
            start ??= await PublishedWeights(learner, name);
            var metrics = await learner.TrainSteps(6);
            Assert.Equal(6, metrics[^1].Step);
            losses.Add([.. metrics.Select(m => m.Loss)]);
            if (learners == 2)
            {
                var silos = await Task.WhenAll(learner.GetPlacement(), fixture.Client.GetGrain<ILearnerGrain>(GrainKeys.LearnerRank(name, 1)).GetPlacement());
                Assert.NotEqual(silos[0].Silo, silos[1].Silo);
            }
            runs.Add(await PublishedWeights(learner, name));
            await learner.Release();
        }
        AssertCloseRun(start!, runs[0], runs[1], "sft");
        // The ranks' losses sum to the whole batch's (a rank that trained the whole batch would double it; AdamW's
        // scale invariance would hide that in the weights).
        AssertSameLosses(losses[0], losses[1], "sft");
        Assert.Equal(runs[1], runs[2]);
    }

    [Fact]
    public async Task Two_ranks_train_the_grpo_and_dpo_updates_of_one_learner()
    {
        // GRPO: the same two hand-made batches (lengths vary, one truncated) to one learner and to a group.
        var grpoRuns = new List<float[]>();
        var grpoLosses = new List<double[]>();
        float[]? grpoStart = null;
        foreach (var (name, learners) in new[] { ("group-grpo-1", 1), ("group-grpo-2", 2) })
        {
            var config = Group(TinyGrpo.Create(name, grpoSteps: 2) with { Sft = TinyGrpo.Create(name).Sft with { Steps = 2 } }, learners);
            var learner = fixture.Client.GetGrain<ILearnerGrain>(name);
            await learner.Initialize(config);
            await learner.TrainSteps(2);
            var start = await learner.StartGrpo();
            grpoStart ??= await PublishedWeights(learner, name);
            var stepLosses = new double[2];
            for (int step = 0; step < 2; step++)
            {
                var result = await learner.GrpoStep(GrpoRequest(start.Version + step, step));
                Assert.False(result.Dropped);
                Assert.Equal(16, result.Sequences);
                stepLosses[step] = result.Loss;
            }
            grpoLosses.Add(stepLosses);
            grpoRuns.Add(await PublishedWeights(learner, name));
            await learner.Release();
        }
        AssertCloseRun(grpoStart!, grpoRuns[0], grpoRuns[1], "grpo");
        AssertSameLosses(grpoLosses[0], grpoLosses[1], "grpo");

        // DPO (SimPO: no reference to send): the same pairs.
        var dpoRuns = new List<float[]>();
        var dpoLosses = new List<double[]>();
        float[]? dpoStart = null;
        foreach (var (name, learners) in new[] { ("group-dpo-1", 1), ("group-dpo-2", 2) })
        {
            var config = Group(TinyPreference.Dpo(name, DpoLossVariant.Simpo) with { Sft = TinyGrpo.Create(name).Sft with { Steps = 2 } }, learners);
            var learner = fixture.Client.GetGrain<ILearnerGrain>(name);
            await learner.Initialize(config);
            await learner.TrainSteps(2);
            await learner.StartDpo();
            dpoStart ??= await PublishedWeights(learner, name);
            var stepLosses = new double[2];
            for (int step = 0; step < 2; step++)
            {
                var result = await learner.DpoStep(DpoRequest());
                Assert.Equal(7, result.Pairs);
                stepLosses[step] = result.Loss;
            }
            dpoLosses.Add(stepLosses);
            dpoRuns.Add(await PublishedWeights(learner, name));
            await learner.Release();
        }
        AssertCloseRun(dpoStart!, dpoRuns[0], dpoRuns[1], "dpo");
        AssertSameLosses(dpoLosses[0], dpoLosses[1], "dpo");
    }

    /// <summary>Trains <paramref name="steps"/> SFT steps in a group of <paramref name="learners"/>; after
    /// <paramref name="loseAfter"/> steps rank <paramref name="lose"/> loses its model, as a rank re-activated after its
    /// silo died would. Returns the final weights and steps.</summary>
    async Task<(float[] Start, float[] Weights, int Steps, string[] Ranks)> RunLosing(string name, int learners, int steps, int loseAfter = 0, int lose = 0)
    {
        var learner = fixture.Client.GetGrain<ILearnerGrain>(name);
        var config = Group(TinyExperiment.Create(name) with { Sft = TinyExperiment.Create(name).Sft with { Steps = steps, BatchSize = 15 } }, learners);
        await learner.Initialize(config);
        var start = await PublishedWeights(learner, name);
        int done = 0;
        if (loseAfter > 0)
        {
            done = (await learner.TrainSteps(loseAfter))[^1].Step;
            await fixture.Client.GetGrain<ILearnerRankGrain>(GrainKeys.LearnerRank(name, lose)).LeaveGroup();
        }
        var metrics = await learner.TrainSteps(steps - done);
        Assert.Equal(Enumerable.Range(done + 1, steps - done), metrics.Select(m => m.Step));
        var ranks = new List<string>();
        for (int member = 1; member < 2 * learners; member++)
        {
            var key = GrainKeys.LearnerRank(name, member);
            if (await fixture.Client.GetGrain<ILearnerGrain>(key).GetStepsDone() == steps) ranks.Add(key);
        }
        var weights = await PublishedWeights(learner, name);
        await learner.Release();
        return (start, weights, metrics[^1].Step, [.. ranks]);
    }

    [Fact]
    public async Task A_lost_rank_is_replaced_on_a_free_device_by_a_state_copy_and_the_run_is_bit_for_bit_the_uninterrupted_one()
    {
        var straight = await RunLosing("group-straight", learners: 2, steps: 5);
        var replaced = await RunLosing("group-replaced", learners: 2, steps: 5, loseAfter: 2, lose: 1);
        Assert.Equal(5, replaced.Steps);
        // Member 1 is gone, member 2 replaced it (on the free silo) and trained the last 3 steps with rank 0.
        Assert.Equal([GrainKeys.LearnerRank("group-replaced", 2)], replaced.Ranks);
        Assert.Equal(straight.Weights, replaced.Weights);
    }

    [Fact]
    public async Task A_group_resumed_from_a_checkpoint_forms_again_and_continues_bit_for_bit()
    {
        var straight = await RunLosing("group-resume-straight", learners: 2, steps: 5);
        const string name = "group-resume";
        var config = Group(TinyExperiment.Create(name) with { Sft = TinyExperiment.Create(name).Sft with { Steps = 5, BatchSize = 15 } }, 2);
        var learner = fixture.Client.GetGrain<ILearnerGrain>(name);
        await learner.Initialize(config);
        await learner.TrainSteps(2);
        var directory = Path.Combine(config.OutputDir, "checkpoint-2");
        await learner.SaveCheckpoint(new Abstractions.Learner.CheckpointRequest { Directory = directory });
        await learner.Release();

        // Every rank restores the same checkpoint (a folder each rank's silo can read), and the group goes on.
        var info = await learner.ResumeFrom(config, directory);
        Assert.Equal(2, info.StepsDone);
        Assert.Equal([3, 4, 5], (await learner.TrainSteps(3)).Select(m => m.Step));
        Assert.Equal(5, await fixture.Client.GetGrain<ILearnerGrain>(GrainKeys.LearnerRank(name, 1)).GetStepsDone());
        Assert.Equal(straight.Weights, await PublishedWeights(learner, name));
        await learner.Release();
    }

    /// <summary>4 prompts × 4 completions of 1–3 digits (the tiny model's char vocabulary), rewards by length.</summary>
    static GrpoStepRequest GrpoRequest(long version, int seed)
    {
        var random = new Random(seed);
        var prompts = Enumerable.Range(0, 16).Select(i => $"{i / 4}+{i / 4}=").ToArray();
        var completions = prompts.Select(_ => string.Concat(Enumerable.Range(0, random.Next(1, 4)).Select(_ => (char)('0' + random.Next(10))))).ToArray();
        var tokenizer = RlhfActors.Training.Tokenization.CharTokenizer.Instance;
        return new GrpoStepRequest
        {
            Rollouts = new RolloutBatchMessage
            {
                PromptIds = [.. prompts.Select(p => RlhfActors.Training.Sft.EncodedExample.EncodePrompt(tokenizer, p))],
                CompletionIds = [.. completions.Select(c => tokenizer.Encode(c).ToArray())],
                BehaviourLogProbs = [.. completions.Select(c => new float[c.Length])],
                Prompts = [.. prompts],
                CompletionTexts = [.. completions],
                References = [.. prompts.Select(_ => (string?)null)],
                Truncated = [.. completions.Select(c => c.Length == 3)],
                GroupSize = 4,
                PolicyVersion = version,
            },
            Rewards = [.. completions.Select((c, i) => c.Length * 0.5 + i % 3 * 0.2)],
            ReferenceLogProbs = [.. completions.Select(c => Enumerable.Range(0, c.Length).Select(j => -1.5f - 0.1f * j).ToArray())],
            LearningRate = 0.01,
        };
    }

    static DpoStepRequest DpoRequest() => new()
    {
        Pairs = [.. Enumerable.Range(0, 7).Select(i => new PreferencePairItem($"{i}+{i}=", (2 * i).ToString(), new string('9', 1 + i % 3)))],
        LearningRate = 0.01,
    };
}
