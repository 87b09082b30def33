using Microsoft.Extensions.Logging;
using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Abstractions.Policy;
using RlhfActors.Abstractions.Tensors;
using RlhfActors.Grains.Policy;
using RlhfActors.Grains.Tensors;

namespace RlhfActors.Grains.Sampling;

/// <summary>
/// Weight sync on the sampler (issue 16): versions are pulled in chunks and verified by digest before they are loaded,
/// full versions in the compute dtype and, when this copy holds an older full version, as only the elements that
/// changed since it. A version is loaded in one device job, between generations (this grain is not reentrant), and
/// a load that fails leaves the copy holding no version, so no call is ever served by a half-loaded one.
/// </summary>
public sealed partial class RolloutSamplerGrain
{
    // The experiment's weight_sync settings and the dtype the evaluator computes in ("" until Initialize: a version
    // pulled before then comes as published).
    WeightSyncSection _sync = new();
    string _dtype = "";
    PolicySyncStats _syncStats = new();

    public async Task<PolicyVersionInfo> SyncPolicy(long minVersion)
    {
        if (_held is { } held && held.Version >= minVersion)
        {
            if (_pending is not null && _evaluator is not null) await LoadPendingAsync();
            return held;
        }

        var latest = await GrainFactory.GetGrain<IPolicyGrain>(ExperimentId).DescribeLatest()
                     ?? throw new InvalidOperationException($"experiment '{ExperimentId}' has published no policy yet");
        if (latest.Version < minVersion)
            throw new InvalidOperationException($"experiment '{ExperimentId}': policy version {minVersion} asked for, latest published is {latest.Version}");
        // Until the pull is verified the version held stays held: a pull that fails changes nothing.
        _pending = await PullAsync(latest.Version, full: !latest.IsAdapter) ?? throw new InvalidOperationException($"experiment '{ExperimentId}': policy version {latest.Version} was evicted before it could be pulled");
        _held = latest;
        if (_evaluator is not null) await LoadPendingAsync();
        return latest;
    }

    public Task<PolicySyncStats> GetSyncStats() => Task.FromResult(_syncStats);

    public async Task<string> GetHeldWeightsSha256()
    {
        if (_evaluator is not { } evaluator || _heldBase is null) return "";
        var weights = await _device.RunAsync(evaluator.ExportWeights);
        // Seconds for a large model: off the grain's thread.
        return await Task.Run(() => PayloadDigest.Sha256(weights.ToPayloads()));
    }

    /// <summary>A version, verified. A full one comes in the compute dtype, and only what changed since the full
    /// version this copy holds when it holds one and delta sync is on; an adapter comes as published.</summary>
    async Task<PulledPolicy?> PullAsync(long version, bool full)
    {
        HeldWeights? held = null;
        if (full && _sync.Delta && _evaluator is { } evaluator && _heldBase is { } heldBase && heldBase != version)
            held = new HeldWeights(heldBase, () => _device.RunAsync(evaluator.ExportWeights));
        var puller = new PolicyPuller(GrainFactory.GetGrain<IPolicyGrain>(ExperimentId), _sync, logger);
        var pulled = await puller.PullAsync(version, full ? _dtype : "", held);
        if (pulled is null) return null;
        _syncStats = _syncStats.Add(version, pulled.BytesMoved, pulled.Manifest.FullBytes, pulled.Manifest.IsDelta);
        LogSynced(this.GetPrimaryKeyString(), version, PolicyTransfers.Described(pulled.Manifest.Key), pulled.BytesMoved, pulled.Manifest.FullBytes);
        return pulled;
    }

    /// <summary>Loads the verified pending version into the evaluator: a full version, or an adapter on its base
    /// (pulled first when the base held is another: adapter-only sync moves the base once per stage). Whatever fails
    /// midway, the copy is marked as holding no version, so the next call pulls again instead of serving it.</summary>
    async Task LoadPendingAsync()
    {
        var evaluator = _evaluator!;
        var pending = _pending!;
        _pending = null;
        var info = pending.Info;
        try
        {
            if (info.IsAdapter)
            {
                if (_heldBase != info.BaseVersion)
                {
                    var baseVersion = await PullAsync(info.BaseVersion, full: true)
                                      ?? throw new InvalidOperationException($"experiment '{ExperimentId}': base version {info.BaseVersion} of adapter version {info.Version} is no longer held");
                    (_heldBase, _heldBaseSha256) = (null, null);
                    await _device.RunAsync(() => evaluator.LoadWeights(baseVersion.Weights));
                    (_heldBase, _heldBaseSha256) = (info.BaseVersion, pending.Manifest.BaseSha256);
                    LogBaseLoaded(this.GetPrimaryKeyString(), info.BaseVersion, baseVersion.BytesMoved);
                }
                var peft = _peft ?? throw new InvalidOperationException($"experiment '{ExperimentId}' published an adapter but its config has no peft section");
                await _device.RunAsync(() => evaluator.LoadAdapter(peft, pending.Weights));
            }
            else
            {
                (_heldBase, _heldBaseSha256) = (null, null);
                await _device.RunAsync(() => evaluator.LoadWeights(pending.Weights));
                (_heldBase, _heldBaseSha256) = (info.Version, info.Sha256);
            }
        }
        catch
        {
            _held = null;
            throw;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Sampler {Sampler}: loaded base version {Version} ({Bytes} bytes moved) for adapter-only sync")]
    private partial void LogBaseLoaded(string sampler, long version, long bytes);

    [LoggerMessage(Level = LogLevel.Information, Message = "Sampler {Sampler}: pulled policy version {Version}{Kind}: {Bytes} bytes moved, {FullBytes} for a whole copy")]
    private partial void LogSynced(string sampler, long version, string kind, long bytes, long fullBytes);
}
