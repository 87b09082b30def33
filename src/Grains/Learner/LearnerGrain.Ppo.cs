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
        var options = PpoSpecs.Options(config);
        _ppo = await _device.RunAsync(() => new PpoPolicyLearner(learner.Model, options, learner.Tokenizer.PadId, initialVersion: start.Version));
        LogStageStarted(this.GetPrimaryKeyString(), "PPO", start.Version, start.Step);
        return start;
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
        var (result, weights, step) = await _device.RunAsync(() =>
        {
            var r = ppo.Step(batch, request.Scores, [.. request.OldValues], reference, request.LearningRate);
            return (r, SyncPayload(learner), GlobalStep(learner));
        });
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
