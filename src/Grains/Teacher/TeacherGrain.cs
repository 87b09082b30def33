using System.Collections.Immutable;
using Microsoft.Extensions.Logging;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Abstractions.Placement;
using RlhfActors.Abstractions.Rollouts;
using RlhfActors.Grains.Device;
using RlhfActors.Grains.Placement;
using RlhfActors.Grains.Rollouts;
using RlhfActors.Training.Distillation;

namespace RlhfActors.Grains.Teacher;

/// <summary>
/// A frozen teacher for distillation: one inference copy of a model folder, asked for the log-probs (or top-k
/// distributions) of completions the students sampled. Keyed by the folder's digest and dtype, not by experiment, so
/// several experiments distilling from the same teacher share this one activation and its one copy of the weights; it
/// counts them, and frees the model when the last one releases it. A heavy grain like the reference: placed on an
/// accelerator silo, its forward passes on that silo's device worker.
/// </summary>
[CollectionAgeLimit(Hours = 2), AcceleratorPlacement]
public sealed partial class TeacherGrain(DeviceWorkers devices, DeviceAllocator allocator, ILogger<TeacherGrain> logger)
    : Grain, ITeacherGrain
{
    readonly DeviceWorker _device = devices.Get(allocator.Allocate());
    readonly SortedSet<string> _experiments = new(StringComparer.Ordinal);
    TeacherModel? _model;
    TeacherInit? _init;
    int _loads;
    long _tokens;

    public Task<GrainPlacement> GetPlacement() =>
        Task.FromResult(new GrainPlacement { Silo = GrainContext.Address.SiloAddress!, Device = _device.Device });

    public async Task<TeacherInfo> Attach(TeacherInit init, string experimentId)
    {
        ArgumentNullException.ThrowIfNull(init);
        ArgumentException.ThrowIfNullOrWhiteSpace(experimentId);
        if (_model is null)
        {
            // The folder may have changed since the key was made from it: load only the weights the key names.
            _model = await _device.RunAsync(() =>
            {
                var digest = Specs.DistillSpecs.FolderSha256(init.Folder);
                if (digest != init.Sha256)
                    throw new InvalidOperationException($"teacher '{init.Folder}' has changed: its files hash to {digest}, the teacher key names {init.Sha256}");
                return TeacherModel.Load(init.Folder, init.DType, _device.Device, verified: true);
            });
            (_init, _loads) = (init, _loads + 1);
            LogLoaded(init.Folder, _model.Parameters, GrainContext.Address.SiloAddress!, _device.Device);
        }
        else if (_init!.Sha256 != init.Sha256 || _init.DType != init.DType)
            throw new InvalidOperationException($"teacher '{this.GetPrimaryKeyString()}' holds {_init.Sha256} ({_init.DType}), asked for {init.Sha256} ({init.DType})");
        if (_experiments.Add(experimentId)) LogAttached(experimentId, this.GetPrimaryKeyString(), _experiments.Count);
        return Info();
    }

    public async Task<ImmutableArray<float[]>> LogProbs(RolloutBatchMessage rollouts, double temperature)
    {
        var model = RequireModel();
        var batch = rollouts.ToBatch();
        var rows = await _device.RunAsync(() => model.LogProbs(batch, temperature));
        _tokens += rows.Sum(r => (long)r.Length);
        return [.. rows];
    }

    public async Task<ImmutableArray<TeacherTopKRow>> TopK(RolloutBatchMessage rollouts, int k, double temperature)
    {
        var model = RequireModel();
        var batch = rollouts.ToBatch();
        var rows = await _device.RunAsync(() => model.TopK(batch, k, temperature));
        _tokens += batch.CompletionIds.Sum(c => (long)c.Length);
        return [.. rows.Select(r => new TeacherTopKRow { K = r.K, Ids = r.Ids, LogProbs = r.LogProbs })];
    }

    public Task<TeacherInfo> GetInfo() => Task.FromResult(Info());

    public async Task Release(string experimentId)
    {
        _experiments.Remove(experimentId);
        if (_experiments.Count > 0) return;
        await DisposeModelAsync();
        DeactivateOnIdle();
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        await DisposeModelAsync();
        await base.OnDeactivateAsync(reason, cancellationToken);
    }

    TeacherInfo Info() => new()
    {
        Experiments = [.. _experiments],
        Loads = _loads,
        VocabSize = _model?.Config.VocabSize ?? 0,
        Parameters = _model?.Parameters ?? 0,
        TokensScored = _tokens,
    };

    TeacherModel RequireModel() => _model ?? throw new InvalidOperationException(
        $"teacher '{this.GetPrimaryKeyString()}' holds no model: call Attach first (or it was deactivated)");

    async Task DisposeModelAsync()
    {
        if (_model is not { } model) return;
        (_model, _init) = (null, null);
        await _device.RunAsync(model.Dispose);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Teacher {Folder} ({Parameters} parameters) loaded on silo {Silo}, device {Device}")]
    private partial void LogLoaded(string folder, long parameters, SiloAddress silo, string device);

    [LoggerMessage(Level = LogLevel.Information, Message = "Experiment {ExperimentId} attached to teacher {Teacher} ({Count} experiments share it)")]
    private partial void LogAttached(string experimentId, string teacher, int count);
}
