using System.Collections.Immutable;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Abstractions.Placement;
using RlhfActors.Abstractions.Preference;
using RlhfActors.Grains.Device;
using RlhfActors.Grains.Placement;
using RlhfActors.Grains.Specs;
using RlhfActors.Grains.Tensors;
using RlhfActors.Training.Data;
using RlhfActors.Training.Judging;
using RlhfActors.Training.Model;
using RlhfActors.Training.RewardModeling;
using RlhfActors.Training.Scoring;
using RlhfActors.Training.Tokenization;
using static TorchSharp.torch;

namespace RlhfActors.Grains.Judging;

/// <summary>
/// The judge of RLAIF and online DPO. Four backends (config's rlaif.judge.type or online_dpo.judge.type):
/// <list type="bullet">
/// <item><c>reward_model</c>: the reward model the experiment's <c>RewardModelGrain</c> trained, copied here once
/// (its weights travel as a message) and run on this silo's device worker; candidates are scored pointwise;</item>
/// <item><c>decoder</c>: a local decoder folder asked "A or B", read from its next-token log-probs, both orders;</item>
/// <item><c>http</c>: an OpenAI-compatible chat-completions endpoint, both orders, bounded concurrency, retries;</item>
/// <item><c>verifier</c>: the task's answer check against each prompt's reference: right ≻ wrong, ties dropped.</item>
/// </list>
/// When the endpoint stays down, <see cref="Rank"/> returns no pairs and says why; the prompts stay pending here with
/// every verdict already given, and the next call judges them first, so an outage loses no pair.
/// </summary>
[CollectionAgeLimit(Hours = 2), AcceleratorPlacement]
public sealed partial class JudgeGrain(DeviceWorkers devices, DeviceAllocator allocator, ILogger<JudgeGrain> logger) : Grain, IJudgeGrain
{
    readonly DeviceWorker _device = devices.Get(allocator.Allocate());
    JudgeSection? _section;
    ScalarHeadModel? _rewardModel;
    RewardModelScorer? _scorer;
    DecoderModel? _decoder;
    VerdictCache? _pairwise;
    IAnswerVerifier? _verifier;
    // TRL's missing_eos_penalty (online DPO), for the pointwise judges.
    double _missingEosPenalty;
    readonly List<CandidateSet> _pending = [];

    public Task<GrainPlacement> GetPlacement() =>
        Task.FromResult(new GrainPlacement { Silo = GrainContext.Address.SiloAddress!, Device = _device.Device });

    public Task<string?> CheckEnvironment(JudgeSection judge) => Task.FromResult(
        judge is { Type: JudgeType.Http, ApiKeyEnv: { } variable } && string.IsNullOrEmpty(Environment.GetEnvironmentVariable(variable))
            ? $"rlaif.judge.api_key_env: the environment variable '{variable}' is not set (or empty) on {Environment.MachineName}, the silo that runs the judge"
            : null);

    public async Task Initialize(JudgeInit init)
    {
        ArgumentNullException.ThrowIfNull(init);
        var config = init.Model.Config;
        var section = config.Judge;
        _missingEosPenalty = config.IsOnlineDpo ? config.OnlineDpo.MissingEosPenalty ?? 0 : 0;
        if (_section == section && (_scorer ?? _pairwise ?? (object?)_verifier) is not null) return;
        await DisposeJudgeAsync();
        var experimentId = this.GetPrimaryKeyString();
        switch (section.Type)
        {
            case JudgeType.RewardModel:
                var export = await GrainFactory.GetGrain<IRewardModelGrain>(experimentId).ExportRewardModel();
                var weights = export.Weights.ToTensorBytes();
                (_rewardModel, _scorer) = await _device.RunAsync(() =>
                {
                    var model = ScalarHeadModel.FromWeights(ExperimentSpecs.ModelConfigFromJson(export.ModelConfigJson), weights,
                        ModelFactory.ParseComputeType(config.Model.DType.Yaml()), new TorchSharp.torch.Device(_device.Device));
                    return (model, new RewardModelScorer(model, TokenizerFiles.Create(config.Model.ResolvedTokenizer)));
                });
                break;
            case JudgeType.Decoder:
                var folder = section.Model ?? throw new ArgumentException("rlaif.judge.model must be the judge's model folder");
                var (decoder, judge) = await _device.RunAsync(() =>
                {
                    var model = ModelFactory.LoadFolder(folder, ModelFactory.ParseComputeType(config.Model.DType.Yaml()), new TorchSharp.torch.Device(_device.Device));
                    model.eval();
                    return (model, new DecoderChoiceJudge(model, TokenizerFiles.Create(folder), section.BothOrders));
                });
                (_decoder, _pairwise) = (decoder, new VerdictCache(judge));
                break;
            case JudgeType.Http:
                _pairwise = new VerdictCache(new HttpChatJudge(JudgeSpecs.Http(section)));
                break;
            case JudgeType.Verifier:
                // The same check the held-out evaluation uses; off the grain's scheduler, as reading data may take a while.
                _verifier = await Task.Run(() => ExperimentData.Load(ExperimentSpecs.Data(config)).Verifier);
                break;
            default:
                throw ConfigNames.Undefined("rlaif.judge.type", section.Type);
        }
        _section = section;
        LogInitialized(experimentId, section.Type.Yaml(), GrainContext.Address.SiloAddress!, _device.Device);
    }

    public async Task<RankResult> Rank(ImmutableArray<CandidateGroup> groups)
    {
        if (_section is null) throw new InvalidOperationException(
            $"judge '{this.GetPrimaryKeyString()}' is not initialized: call Initialize first (or it was deactivated)");
        var clock = Stopwatch.StartNew();
        // Prompts an outage left pending go first: they were sampled earlier and are owed a verdict. A controller that
        // retries the same round sends them again; they are judged once.
        var sets = CandidateRanking.Unique(_pending.Concat(groups.Select(g =>
            new CandidateSet(g.Prompt, g.Candidates, g.Truncated.IsDefaultOrEmpty ? null : g.Truncated, g.Reference))));
        RankOutcome outcome;
        try
        {
            double minConfidence = _section.MinConfidence;
            double penalty = _missingEosPenalty;
            outcome = _verifier is { } verifier
                ? CandidateRanking.RankByVerifier(sets, verifier, penalty)
                : _scorer is { } scorer
                ? await _device.RunAsync(() => CandidateRanking.RankByScores(sets, rows => scorer.ScoreTexts(rows), minConfidence, penalty))
                : _decoder is not null
                    ? await _device.RunAsync(() => CandidateRanking.RankPairwiseAsync(_pairwise!, sets, CancellationToken.None, minConfidence).GetAwaiter().GetResult())
                    : await CandidateRanking.RankPairwiseAsync(_pairwise!, sets, CancellationToken.None, minConfidence);
        }
        catch (JudgeUnavailableException e)
        {
            _pending.Clear();
            _pending.AddRange(sets);
            LogUnavailable(e, this.GetPrimaryKeyString(), sets.Length);
            return new RankResult { Unavailable = e.Message, PendingPrompts = sets.Length, Seconds = clock.Elapsed.TotalSeconds };
        }
        _pending.Clear();
        _pairwise?.Clear();
        return new RankResult
        {
            Pairs = [.. outcome.Pairs.Select(p => new PreferencePairItem(p.Prompt, p.Chosen, p.Rejected))],
            Judgements = outcome.Judgements,
            Skipped = outcome.Skipped,
            Uncertain = outcome.Uncertain,
            OrderDisagreements = outcome.OrderDisagreements,
            Seconds = clock.Elapsed.TotalSeconds,
        };
    }

    public async Task Release()
    {
        await DisposeJudgeAsync();
        DeactivateOnIdle();
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        await DisposeJudgeAsync();
        await base.OnDeactivateAsync(reason, cancellationToken);
    }

    async Task DisposeJudgeAsync()
    {
        var (rewardModel, decoder, pairwise) = (_rewardModel, _decoder, _pairwise);
        (_rewardModel, _scorer, _decoder, _pairwise, _section, _verifier) = (null, null, null, null, null, null);
        pairwise?.Dispose();
        if (rewardModel is not null || decoder is not null)
            await _device.RunAsync(() =>
            {
                rewardModel?.Dispose();
                decoder?.Dispose();
            });
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Judge {ExperimentId}: {Type} judge on silo {Silo}, device {Device}")]
    private partial void LogInitialized(string experimentId, string type, SiloAddress silo, string device);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Judge {ExperimentId}: endpoint unavailable; {Prompts} prompts kept pending for the next call")]
    private partial void LogUnavailable(Exception error, string experimentId, int prompts);
}
