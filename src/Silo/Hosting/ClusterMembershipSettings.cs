using Orleans.Configuration;

namespace RlhfActors.Silo.Hosting;

/// <summary>
/// Failure detection of a Redis cluster, chosen for silos that train on their CPUs. A training step pins every core
/// with libtorch's OpenMP threads, so the runtime threads that answer probes can be late by seconds; a false "dead"
/// verdict would kill a healthy silo (a silo declared dead shuts itself down) and with it every grain it hosts.
/// The figures below trade detection time for that safety, and are what the tests and deploy/ run with.
/// </summary>
public static class ClusterMembershipSettings
{
    /// <summary>A probe unanswered for this long counts as missed. Orleans' default is 5 s; twice that leaves room for
    /// a loaded 2-core machine where the probe's answer waits behind torch work.</summary>
    public static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Missed probes before a silo is suspected (Orleans' default): with <see cref="ProbeTimeout"/>, a dead
    /// silo is declared dead about 30 s after it stopped answering, and its grains re-activate elsewhere.</summary>
    public const int MissedProbesLimit = 3;

    /// <summary>How long a dead silo's row stays in Redis (Orleans' default: 7 days). An hour keeps <c>rlhf cluster</c>
    /// readable on a machine whose local cluster is restarted many times a day, and still shows recent deaths.</summary>
    public static readonly TimeSpan DefunctSiloExpiration = TimeSpan.FromHours(1);

    /// <summary>How often each silo removes expired rows.</summary>
    public static readonly TimeSpan DefunctSiloCleanupPeriod = TimeSpan.FromMinutes(10);

    public static void Apply(ClusterMembershipOptions o)
    {
        o.ProbeTimeout = ProbeTimeout;
        o.NumMissedProbesLimit = MissedProbesLimit;
        // A silo whose own health is degraded (its timers run late: the machine is overloaded) waits longer for
        // answers before it suspects others, rather than voting healthy silos dead.
        o.ExtendProbeTimeoutDuringDegradation = true;
        o.DefunctSiloExpiration = DefunctSiloExpiration;
        o.DefunctSiloCleanupPeriod = DefunctSiloCleanupPeriod;
    }
}
