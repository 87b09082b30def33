using Orleans.Configuration;

namespace RlhfActors.Silo.Hosting;

/// <summary>
/// Failure detection of a Redis cluster (configuration section "Rlhf:Membership", e.g.
/// <c>Rlhf__Membership__ProbeTimeoutSeconds</c>), chosen for silos that train on their CPUs. A training step pins
/// every core with libtorch's OpenMP threads, so the runtime threads that answer probes can be late; a false "dead"
/// verdict would kill a healthy silo (a silo declared dead shuts itself down) and with it every grain it hosts. On the
/// other side, a run that lost a silo waits for the verdict before it recovers. Detection takes about
/// <see cref="ProbeTimeoutSeconds"/> × <see cref="MissedProbesLimit"/>; docs/benchmarks.md (<c>bench recovery</c>)
/// has the measured figures for the defaults.
/// </summary>
public sealed class ClusterMembershipSettings
{
    public const string Section = "Rlhf:Membership";

    /// <summary>Seconds between probes of another silo, and how long an answer may take before the probe counts as
    /// missed. Orleans' default is 5.</summary>
    public int ProbeTimeoutSeconds { get; set; } = 5;

    /// <summary>Missed probes in a row before a silo is suspected (and, with a second vote, declared dead). Orleans'
    /// default is 3.</summary>
    public int MissedProbesLimit { get; set; } = 2;

    /// <summary>How long a dead silo's row stays in Redis (Orleans: 7 days). An hour keeps <c>rlhf cluster</c>
    /// readable on a machine whose local cluster is restarted many times a day, and still shows recent deaths.</summary>
    public int DefunctSiloExpirationMinutes { get; set; } = 60;

    /// <summary>Throws naming the setting that is wrong.</summary>
    public void Validate()
    {
        if (ProbeTimeoutSeconds is < 1 or > 300)
            throw new ArgumentException($"{Section}:{nameof(ProbeTimeoutSeconds)} must be between 1 and 300 (got {ProbeTimeoutSeconds})");
        if (MissedProbesLimit is < 1 or > 20)
            throw new ArgumentException($"{Section}:{nameof(MissedProbesLimit)} must be between 1 and 20 (got {MissedProbesLimit})");
        if (DefunctSiloExpirationMinutes is < 1 or > 60 * 24 * 30)
            throw new ArgumentException($"{Section}:{nameof(DefunctSiloExpirationMinutes)} must be between 1 and 43200 (got {DefunctSiloExpirationMinutes})");
    }

    public void Apply(ClusterMembershipOptions o)
    {
        o.ProbeTimeout = TimeSpan.FromSeconds(ProbeTimeoutSeconds);
        o.NumMissedProbesLimit = MissedProbesLimit;
        // A silo whose own health is degraded (its timers run late: the machine is overloaded) waits longer for
        // answers before it suspects others, rather than voting healthy silos dead.
        o.ExtendProbeTimeoutDuringDegradation = true;
        o.DefunctSiloExpiration = TimeSpan.FromMinutes(DefunctSiloExpirationMinutes);
        // Each silo removes expired rows this often.
        o.DefunctSiloCleanupPeriod = TimeSpan.FromMinutes(Math.Min(10, DefunctSiloExpirationMinutes));
    }
}
