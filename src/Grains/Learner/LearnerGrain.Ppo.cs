using RlhfActors.Abstractions.Policy;
using RlhfActors.Abstractions.Preference;
using RlhfActors.Grains.Rollouts;
using RlhfActors.Grains.Specs;
using RlhfActors.Training.Rl.Ppo;

namespace RlhfActors.Grains.Learner;

/// <summary>The learner's PPO stage: the policy side of PPO (GAE from the critic's values, clipped surrogate over
/// epochs × mini-batches). The critic is its own grain; this one hands back the returns it regresses on.</summary>
public sealed partial class LearnerGrain
{
    PpoPolicyLearner? _ppo;

    public async Task<PolicyVersionInfo> StartPpo()
    {
        var learner = RequireLearner();
        var config = _config!;
        if (!config.IsPpo) throw new InvalidOperationException($"experiment '{config.Name}' is not a PPO run (algorithm: {config.Algorithm})");
        if (_ppo is not null) throw new InvalidOperationException($"learner '{this.GetPrimaryKeyString()}' has already started PPO");
        var start = await PublishPolicy();
        await CreatePpoAsync(start.Version);
        await InGroupAsync(() => Task.FromResult(0), peer => peer.StartRankStage("ppo", start.Version), "the start of ppo", resumable: _ => true);
        LogStageStarted(this.GetPrimaryKeyString(), "PPO", start.Version, start.Step);
        return start;
    }

    /// <summary>The PPO policy learner on the current weights, at policy version <paramref name="version"/>.</summary>
    async Task CreatePpoAsync(long version)
    {
        var (learner, options) = (RequireLearner(), PpoSpecs.Options(_config!));
        _ppo = await _device.RunAsync(() => new PpoPolicyLearner(learner.Model, options, learner.Tokenizer.PadId, initialVersion: version));
    }

    /// <summary>Continues the PPO stage of <paramref name="checkpoint"/>, whose policy the model already holds:
    /// restores the PPO optimizer and position, then publishes the weights as the version it stands at.</summary>
    async Task ResumePpoAsync(Training.Checkpoints.LoadedCheckpoint checkpoint, string checkpointDirectory)
    {
        var learner = RequireLearner();
        var config = _config!;
        var options = PpoSpecs.Options(config);
        var version = _nextVersion;
        _ppo = await RestoredOnDeviceAsync(
            () => new PpoPolicyLearner(learner.Model, options, learner.Tokenizer.PadId, initialVersion: version),
            ppo => ppo.LoadState(checkpoint, checkpointDirectory, config.Seed));
        if (IsCoordinator) await PublishPolicy();
    }

    public async Task<Abstractions.Preference.PpoStepResult> PpoStep(PpoStepRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var learner = RequireLearner();
        var ppo = _ppo ?? throw new InvalidOperationException($"learner '{this.GetPrimaryKeyString()}' has not started PPO: call StartPpo first");
        var batch = request.Rollouts.ToBatch();
        float[][]? reference = request.ReferenceLogProbs.IsDefault ? null : [.. request.ReferenceLogProbs];
        var (versionBefore, stepBefore) = (ppo.PolicyVersion, GlobalStep(learner));
        // As GRPO's: the reducer is read per attempt, and an attempt is repeated only if none of its minibatch rounds
        // was committed.
        var (result, weights, step) = await InGroupAsync(() =>
        {
            var reducer = Reducer;
            return _device.RunAsync(() =>
            {
                var r = ppo.Step(batch, request.Scores, [.. request.OldValues], reference, request.LearningRate, reducer);
                return (r, SyncPayload(learner), GlobalStep(learner));
            });
        }, peer => peer.PpoRankStep(request, versionBefore), $"ppo step {stepBefore + 1}", resumable: committed => committed == 0);
        await CheckAgreementAsync(stepBefore, step);
        var m = result.Metrics;
        var published = await PublishAsync(weights, step, m.PolicyVersion);
        return new Abstractions.Preference.PpoStepResult
        {
            Step = step,
            PolicyVersion = published.Version,
            Loss = m.Loss,
            MeanScore = m.MeanScore,
            MeanKl = m.MeanKl ?? 0,
            ClipFraction = m.ClipFraction,
            GradNorm = m.GradNorm,
            CompletionTokens = m.CompletionTokens,
            Seconds = m.Seconds,
            Returns = [.. result.Returns],
            MeanReturn = m.MeanReturn,
            PublishedBytes = published.Bytes,
        };
    }
}
