using System.Collections.Immutable;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Abstractions.Policy;

using RlhfActors.Grains.Experiments;
using RlhfActors.Grains.Placement;

namespace RlhfActors.Grains.Policy;

/// <summary>
/// Registry of an experiment's policy versions: the weights in memory, the index of every version published (number,
/// step, digest, size; not the weights) in grain storage, so a restarted or different silo still knows which
/// versions a run produced and never reuses a number. In memory, newest <see cref="PolicyGrainOptions.KeepVersions"/>
/// kept, plus the full-weights base that the newest adapter versions apply to, while the run runs; once it ends the
/// controller calls <see cref="Release"/>. Versions arrive and leave in chunks (<see cref="BeginPublish"/>,
/// <see cref="PrepareTransfer"/>), so none is bound by the message limit; chunks are immutable messages, so inside a
/// silo a chunk is a slice of the stored bytes, not a copy.
/// </summary>
[ControlPlanePlacement]
public sealed partial class PolicyGrain(
    [PersistentState("policy-index", GrainStorage.Experiments)] IPersistentState<PolicyIndex> index,
    IOptions<PolicyGrainOptions> options,
    ILogger<PolicyGrain> logger) : Grain, IPolicyGrain
{
    readonly int _keep = options.Value.KeepVersions;
    // Oldest first.
    readonly List<PolicyVersion> _versions = [];

    public Task<PolicyVersionInfo> Publish(PolicyVersion version)
    {
        ArgumentNullException.ThrowIfNull(version);
        CheckPublishable(version, version.Weights.IsDefaultOrEmpty);
        return AddAsync(version, version.Describe());
    }

    /// <summary>The rules every new version meets, whole or chunked: this experiment's, newer than the latest, with
    /// weights, and an adapter's base held.</summary>
    void CheckPublishable(PolicyVersion version, bool empty)
    {
        var experimentId = this.GetPrimaryKeyString();
        if (version.ExperimentId != experimentId)
            throw new ArgumentException($"policy version belongs to experiment '{version.ExperimentId}', not '{experimentId}'", nameof(version));
        var latest = LatestNumber();
        if (latest >= 0 && version.Version <= latest)
            throw new ArgumentException($"policy version {version.Version} is not newer than the latest ({latest})", nameof(version));
        if (empty)
            throw new ArgumentException($"policy version {version.Version} has no weights", nameof(version));

        if (version.IsAdapter && _versions.Find(v => v.Version == version.BaseVersion) is not { IsAdapter: false })
            throw new ArgumentException($"adapter version {version.Version} names base version {version.BaseVersion}, which is not a full-weights version held here", nameof(version));
    }

    /// <summary>Makes a checked version visible: held, indexed, the oldest trimmed.</summary>
    async Task<PolicyVersionInfo> AddAsync(PolicyVersion version, PolicyVersionInfo info)
    {
        _versions.Add(version);
        // Trim the oldest, but never the base the newest adapter versions apply to.
        long keepBase = version.IsAdapter ? version.BaseVersion : version.Version;
        while (_versions.Count > _keep)
        {
            int oldest = _versions.FindIndex(v => v.Version != keepBase);
            if (oldest < 0 || oldest == _versions.Count - 1) break;
            _versions.RemoveAt(oldest);
        }
        DropTransfers();
        index.State.Versions.Add(info);
        await PersistIndexAsync();
        LogPublished(this.GetPrimaryKeyString(), info.Version, info.Step, info.Tensors, info.Bytes);
        return info;
    }

    /// <summary>The index is bookkeeping (version numbers across restarts), not the weights: while Redis is away
    /// publication goes on, and the next publication writes the whole index again.</summary>
    async Task PersistIndexAsync()
    {
        try
        {
            await Experiments.SoleWriter.WriteAsync(index);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            LogIndexNotWritten(this.GetPrimaryKeyString(), index.State.Versions.Count, e.Message);
        }
    }

    public Task<PolicyVersion?> GetLatest() => Task.FromResult(_versions.Count > 0 ? _versions[^1] : null);

    public Task<PolicyVersion?> GetVersion(long version) => Task.FromResult(_versions.Find(v => v.Version == version));

    public Task<long> GetLatestVersionNumber() => Task.FromResult(LatestNumber());

    public Task<bool> Holds(long version) => Task.FromResult(_versions.Exists(v => v.Version == version));

    public Task Release()
    {
        long before = HeldBytes();
        // A finished run's full versions are pulled by nobody: its samplers, reference, critic and reward model are
        // released with it, and a resume republishes from its checkpoint (the learner asks Holds first). Its newest
        // adapter is still served by GenerateForAdapters, which asks GetLatest for it alone, never for its base.
        var adapter = _versions.Count > 0 && _versions[^1].IsAdapter ? _versions[^1] : null;
        _versions.Clear();
        if (adapter is not null) _versions.Add(adapter);
        _upload = null;
        DropTransfers();
        LogReleased(this.GetPrimaryKeyString(), before - HeldBytes(), HeldBytes());
        return Task.CompletedTask;
    }

    public Task<long> GetHeldBytes() => Task.FromResult(HeldBytes());

    /// <summary>The versions, and what serving and receiving them holds besides: dtype views, deltas, a publication
    /// under way.</summary>
    long HeldBytes() => _versions.Sum(v => v.Weights.Sum(w => (long)w.Data.Length)) + TransferBytes() + (_upload?.Staged.Length ?? 0);

    public Task<ImmutableArray<PolicyVersionInfo>> GetIndex() => Task.FromResult(index.State.Versions.ToImmutableArray());

    /// <summary>From the persisted index, not the weights held: after a re-activation the weights are gone but the
    /// numbering continues.</summary>
    long LatestNumber() => index.State.Versions.Count > 0 ? index.State.Versions[^1].Version : -1L;

    [LoggerMessage(Level = LogLevel.Information, Message = "Experiment {ExperimentId}: policy version {Version} (step {Step}, {Tensors} tensors, {Bytes} bytes) published")]
    private partial void LogPublished(string experimentId, long version, int step, int tensors, long bytes);

    [LoggerMessage(Level = LogLevel.Information, Message = "Experiment {ExperimentId}: the run ended; policy registry released {Released} bytes of weights, holds {Held}")]
    private partial void LogReleased(string experimentId, long released, long held);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Policy registry {ExperimentId}: its version index ({Versions} versions) could not be written; publication goes on: {Reason}")]
    private partial void LogIndexNotWritten(string experimentId, int versions, string reason);
}

/// <summary>A policy registry's persisted state: every version it was given, oldest first, without the weights (a few
/// hundred bytes each, so even a run of thousands of steps keeps a small record).</summary>
[GenerateSerializer, Alias("rlhf.PolicyIndex")]
public sealed class PolicyIndex
{
    [Id(0)] public List<PolicyVersionInfo> Versions { get; set; } = [];
}
