using Microsoft.Extensions.Logging;
using RlhfActors.Abstractions.Policy;
using RlhfActors.Abstractions.Rollouts;
using RlhfActors.Grains.Rollouts;
using RlhfActors.Grains.Specs;
using RlhfActors.Grains.Tensors;
using RlhfActors.Abstractions.Config;
using RlhfActors.Training.Peft;
using RlhfActors.Training.Rl;
using RlhfActors.Training.Tasks;

namespace RlhfActors.Grains.Learner;

/// <summary>The learner's GRPO stage: the same model the SFT warm-up trained, a fresh AdamW, one update per call.</summary>
public sealed partial class LearnerGrain
{
    GrpoLearner? _grpo;

    public async Task<PolicyVersionInfo> StartGrpo()
    {
        var learner = RequireLearner();
        var config = _config!;
        if (!config.IsGrpo) throw new InvalidOperationException($"experiment '{config.Name}' is not a GRPO run (algorithm: {config.Algorithm})");
        if (_grpo is not null) throw new InvalidOperationException($"learner '{this.GetPrimaryKeyString()}' has already started GRPO");
        if (PeftSpecs.For(config, PeftSection.GrpoStage) is { } peft)
        {
            // A fresh adapter on the warmed-up policy (merging the warm-up's adapter first): that policy becomes the
            // base the reference switches back to, and a new base to publish once.
            bool warmedUp = learner.StepsDone > 0 && config.Sft.Steps > 0;
            await _device.RunAsync(() => Lora.BeginStage(learner.Model, peft, StableSeed.Derive(config.Seed, Lora.GrpoSeedStream), warmedUp));
            if (warmedUp || _baseVersion is null) (_baseVersion, _published) = (null, null);
        }
        var start = await PublishPolicy();
        var options = GrpoSpecs.Options(config);
        _grpo = await _device.RunAsync(() => new GrpoLearner(learner.Model, reference: null, options, learner.Tokenizer.PadId,
            config.Grpo.WeightDecay, config.Grpo.MaxGradNorm, initialVersion: start.Version));
        LogGrpoStarted(this.GetPrimaryKeyString(), start.Version, start.Step);
        return start;
    }

    /// <summary>Continues the GRPO stage of <paramref name="checkpointDirectory"/>, whose policy the model already
    /// holds: publishes it as a new version and restores the GRPO optimizer and position on top.</summary>
    async Task ResumeGrpoAsync(Training.Checkpoints.LoadedCheckpoint checkpoint, string checkpointDirectory)
    {
        var learner = RequireLearner();
        var config = _config!;
        var options = GrpoSpecs.Options(config);
        // The version about to be published (next) is the one the restored GRPO learner stands at.
        var version = _nextVersion;
        _grpo = await RestoredOnDeviceAsync(
            () => new GrpoLearner(learner.Model, reference: null, options, learner.Tokenizer.PadId,
                config.Grpo.WeightDecay, config.Grpo.MaxGradNorm, initialVersion: version),
            grpo => grpo.LoadState(checkpoint, checkpointDirectory, config.Seed));
        await PublishPolicy();
    }

    public async Task<GrpoStepResult> GrpoStep(GrpoStepRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var learner = RequireLearner();
        var grpo = _grpo ?? throw new InvalidOperationException($"learner '{this.GetPrimaryKeyString()}' has not started GRPO: call StartGrpo first");
        var batch = request.Rollouts.ToBatch();
        var rewards = request.Rewards;
        float[][]? reference = request.ReferenceLogProbs.IsDefault ? null : [.. request.ReferenceLogProbs];
        var (metrics, weights, step) = await _device.RunAsync(() =>
        {
            var m = grpo.Step(batch, rewards, request.LearningRate, reference);
            // Export inside the same job: the published weights are exactly the ones this update produced.
            return (m, m.Dropped ? default : SyncPayload(learner), GlobalStep(learner));
        });
        long publishedBytes = 0;
        if (metrics.Dropped) LogDropped(this.GetPrimaryKeyString(), batch.PolicyVersion, metrics.Staleness);
        else publishedBytes = (await PublishAsync(weights, step, metrics.PolicyVersion)).Bytes;
        return new GrpoStepResult
        {
            Step = step,
            PolicyVersion = grpo.PolicyVersion,
            Loss = metrics.Loss,
            MeanReward = metrics.MeanReward,
            MeanKl = metrics.MeanKl,
            ClipFraction = metrics.ClipFraction,
            GradNorm = metrics.GradNorm,
            Sequences = metrics.Sequences,
            CompletionTokens = metrics.CompletionTokens,
            Seconds = metrics.Seconds,
            Staleness = metrics.Staleness,
            Dropped = metrics.Dropped,
            ImportanceCorrected = metrics.ImportanceCorrected,
            PublishedBytes = publishedBytes,
        };
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Experiment {ExperimentId}: GRPO starts from policy version {Version} (step {Step})")]
    private partial void LogGrpoStarted(string experimentId, long version, int step);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Experiment {ExperimentId}: dropped rollouts of policy version {Version}, {Staleness} versions old (more than grpo.max_staleness)")]
    private partial void LogDropped(string experimentId, long version, long staleness);
}
