using System.Collections.Immutable;
using RlhfActors.Abstractions;
using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Abstractions.Preference;
using RlhfActors.Abstractions.Rollouts;
using RlhfActors.Abstractions.Sampling;
using RlhfActors.Tests.Grains;
using RlhfActors.Tests.Grpo;
using RlhfActors.Tests.Preference;

namespace RlhfActors.Tests.Parallel;

/// <summary>
/// PPO's roles as groups on the two silos of the test cluster: the policy's learner group and the critic's group of two ranks
/// each (every segment serialized across the silos) take the same hand-made PPO steps as one learner and one critic,
/// and end where they do, up to rounding (<see cref="ShardedPpoUpdateTests"/> checks the normalisers exactly): the
/// policy's weights within 1e-3 of the distance training moved them, and the critic's value losses within 1e-4, step by
/// step (the second and third losses are measured on the weights the earlier updates produced). The reward model's
/// group trains the reward model of one grain: the same losses step by step and the same held-out accuracy and margin.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class PpoGroupTests(ClusterFixture fixture)
{
    const int Steps = 3;

    Task<float[]> PublishedWeights(ILearnerGrain learner, string experiment) => GroupAssert.PublishedWeights(fixture.Client, learner, experiment);

    async Task<(float[] Start, float[] End, double[] PolicyLosses, double[] ValueLosses)> Run(string name, int learners)
    {
        var config = TinyPreference.Ppo(name) with
        {
            Sft = TinyGrpo.Create(name).Sft with { Steps = 2 },
            Parallel = new ParallelSection { Learners = learners, DigestEvery = 1, BucketBytes = 4096 },
        };
        var learner = fixture.Client.GetGrain<ILearnerGrain>(name);
        var critic = fixture.Client.GetGrain<ICriticGrain>(name);
        var info = await learner.Initialize(config);
        await learner.TrainSteps(2);
        var start = await learner.StartPpo();
        var startWeights = await PublishedWeights(learner, name);
        await critic.Initialize(new CriticInit { Model = new SamplerInit { Config = config, ModelConfigJson = info.ModelConfigJson }, Version = start.Version });
        var policyLosses = new double[Steps];
        var valueLosses = new double[Steps];
        for (int step = 0; step < Steps; step++)
        {
            var rollouts = Rollouts(start.Version + step, step);
            var values = await critic.Values(rollouts);
            var result = await learner.PpoStep(new PpoStepRequest
            {
                Rollouts = rollouts,
                Scores = [.. rollouts.CompletionIds.Select((c, i) => c.Length * 0.5 + i % 3 * 0.2)],
                OldValues = values,
                ReferenceLogProbs = [.. rollouts.CompletionIds.Select(c => Enumerable.Range(0, c.Length).Select(j => -1.5f - 0.1f * j).ToArray())],
                LearningRate = 0.01,
            });
            var trained = await critic.Train(new CriticTrainRequest { Rollouts = rollouts, Returns = result.Returns, OldValues = values, LearningRate = 0.01 });
            (policyLosses[step], valueLosses[step]) = (result.Loss, trained.ValueLoss);
        }
        if (learners == 2)
        {
            Assert.Equal(Steps, await fixture.Client.GetGrain<ICriticGrain>(GrainKeys.CriticRank(name, 1)).GetStepsDone());
            var placements = await Task.WhenAll(critic.GetPlacement(), fixture.Client.GetGrain<ICriticGrain>(GrainKeys.CriticRank(name, 1)).GetPlacement());
            Assert.NotEqual(placements[0].Silo, placements[1].Silo);
        }
        var end = await PublishedWeights(learner, name);
        await critic.Release();
        await learner.Release();
        return (startWeights, end, policyLosses, valueLosses);
    }

    /// <summary>8 completions of 1–3 digits, as a sampler would send them.</summary>
    static RolloutBatchMessage Rollouts(long version, int seed)
    {
        var random = new Random(seed);
        var prompts = Enumerable.Range(0, 8).Select(i => $"{i / 2}+{i / 2}=").ToArray();
        var completions = prompts.Select(_ => string.Concat(Enumerable.Range(0, random.Next(1, 4)).Select(_ => (char)('0' + random.Next(10))))).ToArray();
        var tokenizer = RlhfActors.Training.Tokenization.CharTokenizer.Instance;
        return new RolloutBatchMessage
        {
            PromptIds = [.. prompts.Select(p => RlhfActors.Training.Sft.EncodedExample.EncodePrompt(tokenizer, p))],
            CompletionIds = [.. completions.Select(c => tokenizer.Encode(c).ToArray())],
            BehaviourLogProbs = [.. completions.Select(c => new float[c.Length])],
            Prompts = [.. prompts],
            CompletionTexts = [.. completions],
            References = [.. prompts.Select(_ => (string?)null)],
            Truncated = [.. completions.Select(_ => false)],
            GroupSize = 2,
            PolicyVersion = version,
        };
    }

    [Fact]
    public async Task Two_policy_ranks_and_two_critic_ranks_train_the_ppo_updates_of_one_learner_and_one_critic()
    {
        var single = await Run("group-ppo-1", learners: 1);
        var group = await Run("group-ppo-2", learners: 2);
        // (The starts differ by rounding already: the group trained its 2 SFT warm-up steps as a group.)
        double moved = GroupAssert.Distance(single.End, single.Start), apart = GroupAssert.Distance(single.End, group.End);
        Assert.True(moved > 0, "ppo did not move the policy");
        Assert.True(apart <= 1e-3 * moved, $"the policy group is {apart:E2} from the single learner, which moved the weights {moved:E2}");
        for (int step = 0; step < Steps; step++)
        {
            Assert.True(Math.Abs(single.PolicyLosses[step] - group.PolicyLosses[step]) <= 1e-6 + 1e-4 * Math.Abs(single.PolicyLosses[step]),
                $"ppo step {step + 1}: policy loss {group.PolicyLosses[step]} in the group, {single.PolicyLosses[step]} alone");
            Assert.True(Math.Abs(single.ValueLosses[step] - group.ValueLosses[step]) <= 1e-4 * Math.Abs(single.ValueLosses[step]),
                $"ppo step {step + 1}: value loss {group.ValueLosses[step]} in the group, {single.ValueLosses[step]} alone");
        }
    }

    async Task<(double[] Losses, PreferenceEvalResult After, string[] RankDigests)> TrainRewardModel(string name, int learners)
    {
        var config = TinyPreference.Ppo(name) with
        {
            Sft = TinyGrpo.Create(name).Sft with { Steps = 2 },
            RewardModel = TinyPreference.Ppo(name).RewardModel with { Steps = 6 },
            Parallel = new ParallelSection { Learners = learners, DigestEvery = 3, BucketBytes = 4096 },
        };
        // The policy alone (its own group is tested above): the reward model's group is what differs.
        var learner = fixture.Client.GetGrain<ILearnerGrain>(name);
        var info = await learner.Initialize(config with { Parallel = new ParallelSection() });
        await learner.TrainSteps(2);
        var version = await learner.PublishPolicy();
        var rewardModel = fixture.Client.GetGrain<IRewardModelGrain>(name);
        await rewardModel.StartTraining(new RewardModelInit { Model = new SamplerInit { Config = config, ModelConfigJson = info.ModelConfigJson }, Version = version.Version });
        var losses = new List<double>();
        for (int chunk = 0; chunk < 2; chunk++) losses.AddRange((await rewardModel.TrainRewardModel(3)).Select(m => m.Loss));
        // Every rank holds rank 0's weights after the steps (a rank that trained nothing, or other pairs, would not).
        var digests = await Task.WhenAll(Enumerable.Range(0, learners).Select(r =>
            fixture.Client.GetGrain<IRewardModelRankGrain>(GrainKeys.RewardModelRank(name, r)).GetRankDigest()));
        var after = await rewardModel.EvaluateRewardModel();
        await rewardModel.Release();
        await learner.Release();
        return ([.. losses], after, digests);
    }

    [Fact]
    public async Task Two_reward_model_ranks_train_the_reward_model_of_one_grain()
    {
        var single = await TrainRewardModel("group-rm-1", learners: 1);
        var group = await TrainRewardModel("group-rm-2", learners: 2);
        Assert.Equal(2, group.RankDigests.Length);
        Assert.Equal(group.RankDigests[0], group.RankDigests[1]);
        for (int step = 0; step < single.Losses.Length; step++)
            Assert.True(Math.Abs(single.Losses[step] - group.Losses[step]) <= 1e-4 * Math.Abs(single.Losses[step]),
                $"reward model step {step + 1}: loss {group.Losses[step]} in the group, {single.Losses[step]} alone");
        Assert.Equal(single.After.Accuracy, group.After.Accuracy);
        Assert.Equal(single.After.MeanMargin, group.After.MeanMargin, 4);
    }

    /// <summary>The whole PPO plan through the controller with <c>parallel.learners: 2</c>: the SFT warm-up, the reward
    /// model and PPO (policy and critic) each train as a group of two on the two silos, and the run completes with
    /// every stage's steps.</summary>
    [Fact]
    public async Task A_ppo_run_with_two_learners_trains_every_stage_as_a_group_and_completes()
    {
        var name = $"group-ppo-run-{Guid.NewGuid():N}"[..24];
        var config = TinyPreference.Ppo(name) with { Parallel = new ParallelSection { Learners = 2, DigestEvery = 1, BucketBytes = 4096 } };
        var status = await GrpoRuns.RunAsync(fixture.Client, config);
        Assert.True(status.State == Abstractions.Experiments.ExperimentState.Completed, $"run ended {status.State} in phase '{status.Phase}': {status.Error}");
        var result = (await fixture.Client.GetGrain<IExperimentGrain>(name).GetResult())!;
        Assert.Equal(["sft", "reward_model", "ppo"], result.Stages.Select(s => s.Name));
        Assert.Equal([config.Sft.Steps, config.RewardModel.Steps, config.Ppo.Steps], result.Stages.Select(s => s.Steps));
        Assert.True(double.IsFinite(result.Stages[2].Metrics["val/explained_variance"]));
    }
}
