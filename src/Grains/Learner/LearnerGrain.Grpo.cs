using System.Collections.Immutable;
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
        RequireLearner();
        var config = _config!;
        if (!config.IsGrpo) throw new InvalidOperationException($"experiment '{config.Name}' is not a GRPO run (algorithm: {config.Algorithm})");
        if (_grpo is not null) throw new InvalidOperationException($"learner '{this.GetPrimaryKeyString()}' has already started GRPO");
        // A new adapter is a new base to publish once.
        if (await BeginGrpoAdaptersAsync()) (_baseVersion, _published) = (null, null);
        var start = await PublishPolicy();
        await CreateGrpoAsync(start.Version);
        await InGroupAsync(() => Task.FromResult(0), peer => peer.StartRankStage("grpo", start.Version), "the start of grpo", resumable: _ => true);
        LogGrpoStarted(this.GetPrimaryKeyString(), start.Version, start.Step);
        return start;
    }

    /// <summary>Under PEFT: a fresh adapter on the warmed-up policy (merging the warm-up's adapter first), whose
    /// policy becomes the base the reference switches back to. True when the base changed (or none was published).</summary>
    async Task<bool> BeginGrpoAdaptersAsync()
    {
        var (learner, config) = (RequireLearner(), _config!);
        if (PeftSpecs.For(config, PeftSection.GrpoStage) is not { } peft) return false;
        bool warmedUp = learner.StepsDone > 0 && config.Sft.Steps > 0;
        await _device.RunAsync(() => Lora.BeginStage(learner.Model, peft, StableSeed.Derive(config.Seed, Lora.GrpoSeedStream), warmedUp));
        // The warm-up changed the weights the new adapter sits on: they are no longer model.init's.
        if (warmedUp) _adapterBase = null;
        return warmedUp || _baseVersion is null;
    }

    /// <summary>The GRPO learner on the current weights, at policy version <paramref name="version"/>.</summary>
    async Task CreateGrpoAsync(long version)
    {
        var (learner, config) = (RequireLearner(), _config!);
        var options = GrpoSpecs.Options(config);
        _grpo = await _device.RunAsync(() => new GrpoLearner(learner.Model, reference: null, options, learner.Tokenizer.PadId,
            config.Grpo.WeightDecay, config.Grpo.MaxGradNorm, initialVersion: version));
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
        if (IsCoordinator) await PublishPolicy();
    }

    public async Task<GrpoStepResult> GrpoStep(GrpoStepRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var learner = RequireLearner();
        var grpo = _grpo ?? throw new InvalidOperationException($"learner '{this.GetPrimaryKeyString()}' has not started GRPO: call StartGrpo first");
        var batch = request.Rollouts.ToBatch();
        var rewards = request.Rewards;
        var (reference, components) = request.StepInputs();
        var (versionBefore, stepBefore) = (grpo.PolicyVersion, GlobalStep(learner));
        // Reducer is read per attempt: a group formed again after a lost rank has a new exchange. An attempt is
        // repeated only if no round of it was committed (μ > 1 passes cannot be resumed half-way).
        var (metrics, weights, step) = await InGroupAsync(() =>
        {
            var reducer = Reducer;
            return _device.RunAsync(() =>
            {
                var m = grpo.Step(batch, rewards, request.LearningRate, reference, reducer, components);
                // Export inside the same job: the published weights are exactly the ones this update produced.
                return (m, m.Dropped ? default : SyncPayload(learner), GlobalStep(learner));
            });
        }, peer => peer.GrpoRankStep(request, versionBefore), $"grpo step {stepBefore + 1}", resumable: committed => committed == 0);
        await CheckAgreementAsync(stepBefore, step);
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
            Logged = metrics.Logged.ToImmutableSortedDictionary(StringComparer.Ordinal),
        };
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Experiment {ExperimentId}: GRPO starts from policy version {Version} (step {Step})")]
    private partial void LogGrpoStarted(string experimentId, long version, int step);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Experiment {ExperimentId}: dropped rollouts of policy version {Version}, {Staleness} versions old (more than grpo.max_staleness)")]
    private partial void LogDropped(string experimentId, long version, long staleness);
}
