using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Abstractions.Policy;

using RlhfActors.Grains.Placement;

namespace RlhfActors.Grains.Policy;

/// <summary>
/// In-memory registry of an experiment's policy versions, newest <see cref="PolicyGrainOptions.KeepVersions"/>
/// kept, plus the full-weights base that the newest adapter versions apply to. Versions are immutable messages, so returning one hands out the stored object without a copy inside a
/// silo, and serializes it once across silos.
/// </summary>
[ControlPlanePlacement]
public sealed partial class PolicyGrain(IOptions<PolicyGrainOptions> options, ILogger<PolicyGrain> logger) : Grain, IPolicyGrain
{
    readonly int _keep = options.Value.KeepVersions;
    // Oldest first.
    readonly List<PolicyVersion> _versions = [];

    public Task<PolicyVersionInfo> Publish(PolicyVersion version)
    {
        ArgumentNullException.ThrowIfNull(version);
        var experimentId = this.GetPrimaryKeyString();
        if (version.ExperimentId != experimentId)
            throw new ArgumentException($"policy version belongs to experiment '{version.ExperimentId}', not '{experimentId}'", nameof(version));
        if (_versions.Count > 0 && version.Version <= _versions[^1].Version)
            throw new ArgumentException($"policy version {version.Version} is not newer than the latest ({_versions[^1].Version})", nameof(version));
        if (version.Weights.IsDefaultOrEmpty)
            throw new ArgumentException($"policy version {version.Version} has no weights", nameof(version));

        if (version.IsAdapter && _versions.Find(v => v.Version == version.BaseVersion) is not { IsAdapter: false })
            throw new ArgumentException($"adapter version {version.Version} names base version {version.BaseVersion}, which is not a full-weights version held here", nameof(version));

        _versions.Add(version);
        // Trim the oldest, but never the base the newest adapter versions apply to.
        long keepBase = version.IsAdapter ? version.BaseVersion : version.Version;
        while (_versions.Count > _keep)
        {
            int oldest = _versions.FindIndex(v => v.Version != keepBase);
            if (oldest < 0 || oldest == _versions.Count - 1) break;
            _versions.RemoveAt(oldest);
        }
        var info = version.Describe();
        LogPublished(experimentId, info.Version, info.Step, info.Tensors, info.Bytes);
        return Task.FromResult(info);
    }

    public Task<PolicyVersion?> GetLatest() => Task.FromResult(_versions.Count > 0 ? _versions[^1] : null);

    public Task<PolicyVersion?> GetVersion(long version) => Task.FromResult(_versions.Find(v => v.Version == version));

    public Task<long> GetLatestVersionNumber() => Task.FromResult(_versions.Count > 0 ? _versions[^1].Version : -1L);

    [LoggerMessage(Level = LogLevel.Information, Message = "Experiment {ExperimentId}: policy version {Version} (step {Step}, {Tensors} tensors, {Bytes} bytes) published")]
    private partial void LogPublished(string experimentId, long version, int step, int tensors, long bytes);
}
