using Microsoft.Extensions.Logging;
using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Abstractions.Learner;
using RlhfActors.Abstractions.Preference;
using RlhfActors.Abstractions.Rollouts;
using RlhfActors.Grains.Learner.Group;
using RlhfActors.Grains.Rollouts;
using RlhfActors.Grains.Specs;

namespace RlhfActors.Grains.Learner;

/// <summary>The learner as a rank other than 0 (<see cref="ILearnerRankGrain"/>): joining a group, its share of each
/// training call rank 0 hands it, and the exchange's messages.</summary>
public sealed partial class LearnerGrain
{
    public async Task<string> JoinGroup(ExperimentConfig config, LearnerGroup group)
    {
        int rank = RankIn(group);
        await InitializeReplicaAsync(config);
        _exchange = new GradientExchange(RankGrain, group, rank);
        return await WeightsDigestAsync();
    }

    public async Task<string> JoinGroupFromCheckpoint(ExperimentConfig config, LearnerGroup group, string checkpointDirectory)
    {
        int rank = RankIn(group);
        await ResumeReplicaAsync(config, checkpointDirectory);
        _exchange = new GradientExchange(RankGrain, group, rank);
        return await WeightsDigestAsync();
    }

    public async Task<string> JoinGroupFromState(ExperimentConfig config, LearnerGroup group, LearnerState state)
    {
        int rank = RankIn(group);
        var directory = Path.Combine(Path.GetTempPath(), "rlhf-learner-state", Guid.NewGuid().ToString("N"));
        try
        {
            foreach (var (name, bytes) in state.Files)
            {
                var path = Path.GetFullPath(Path.Combine(directory, name));
                if (!path.StartsWith(directory + Path.DirectorySeparatorChar, StringComparison.Ordinal))
                    throw new ArgumentException($"learner state file '{name}' is outside its folder", nameof(state));
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                await File.WriteAllBytesAsync(path, bytes);
            }
            await ResumeReplicaAsync(config, directory);
        }
        finally
        {
            if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
        }
        _exchange = new GradientExchange(RankGrain, group, rank);
        return await WeightsDigestAsync();
    }

    public async Task<string> Regroup(LearnerGroup group)
    {
        int rank = RankIn(group);
        RequireLearner();
        _exchange = new GradientExchange(RankGrain, group, rank);
        return await WeightsDigestAsync();
    }

    /// <summary>This grain's rank in <paramref name="group"/> (never 0: rank 0 forms the group).</summary>
    int RankIn(LearnerGroup group)
    {
        int rank = group.Ranks.IndexOf(this.GetPrimaryKeyString());
        if (rank < 1)
            throw new ArgumentException($"learner '{this.GetPrimaryKeyString()}' is not a rank of the group [{string.Join(", ", group.Ranks)}] other than rank 0", nameof(group));
        return rank;
    }

    public async Task TrainRankSteps(int steps) => await RunSftStepsAsync(steps);

    public async Task StartRankStage(string stage, long policyVersion)
    {
        switch (stage)
        {
            case "grpo":
                await BeginGrpoAdaptersAsync();
                await CreateGrpoAsync(policyVersion);
                break;
            case "dpo":
                await CreateDpoAsync();
                break;
            case "ppo":
                await CreatePpoAsync(policyVersion);
                break;
            default:
                throw new ArgumentException($"a learner group trains sft, grpo, dpo and ppo stages, not '{stage}'", nameof(stage));
        }
    }

    public async Task GrpoRankStep(GrpoStepRequest request, long policyVersion)
    {
        var grpo = _grpo ?? throw new InvalidOperationException($"learner '{this.GetPrimaryKeyString()}' has not started GRPO");
        // Rank 0 republishes (a lost registry) without training: the version the batch is judged against moves with it.
        if (policyVersion != grpo.PolicyVersion) await _device.RunAsync(() => grpo.Republished(policyVersion));
        var batch = request.Rollouts.ToBatch();
        var (reference, components) = request.StepInputs();
        var reducer = Reducer;
        await _device.RunAsync(() => grpo.Step(batch, request.Rewards, request.LearningRate, reference, reducer, components));
    }

    public async Task PpoRankStep(PpoStepRequest request, long policyVersion)
    {
        var ppo = _ppo ?? throw new InvalidOperationException($"learner '{this.GetPrimaryKeyString()}' has not started PPO");
        if (policyVersion != ppo.PolicyVersion) await _device.RunAsync(() => ppo.Republished(policyVersion));
        var batch = request.Rollouts.ToBatch();
        float[][]? reference = request.ReferenceLogProbs.IsDefault ? null : [.. request.ReferenceLogProbs];
        var reducer = Reducer;
        await _device.RunAsync(() => ppo.Step(batch, request.Scores, [.. request.OldValues], reference, request.LearningRate, reducer));
    }

    public async Task DpoRankStep(DpoStepRequest request)
    {
        var dpo = _dpo ?? throw new InvalidOperationException($"learner '{this.GetPrimaryKeyString()}' has not started DPO");
        var pairs = request.Pairs.Select(p => p.ToPair()).ToArray();
        var reference = ReferenceRows(request.Reference);
        var reducer = Reducer;
        await _device.RunAsync(() => dpo.Step(pairs, reference, request.LearningRate, reducer));
    }

    public Task<string> GetWeightsDigest() => WeightsDigestAsync();

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

    public async Task LeaveGroup()
    {
        _exchange = null;
        await Release();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Learner {Learner}: a gradient segment from rank {From} (exchange {Round}) arrived outside any group and was dropped")]
    private partial void LogSegmentDropped(string learner, int from, long round);
}
