using Microsoft.Extensions.Logging;
using Orleans.Runtime;
using RlhfActors.Abstractions;
using RlhfActors.Abstractions.Grains;

namespace RlhfActors.Grains.Cluster;

/// <summary>
/// Brings back, as soon as membership declares a silo dead, the controllers that lived on it: it asks every
/// experiment of the directory for its status, which re-activates a lost controller on a live silo, where it
/// recovers its run (ExperimentGrain.Recovery). Without it the controller's keep-alive reminder does the same, up to a
/// minute later. Every silo runs one; the calls are idempotent, so several silos noticing one death is harmless.
/// </summary>
public sealed partial class ExperimentWatchdog(IClusterMembershipService membership, IGrainFactory grains, ILogger<ExperimentWatchdog> logger)
    : ILifecycleParticipant<ISiloLifecycle>
{
    readonly CancellationTokenSource _stop = new();
    Task _watching = Task.CompletedTask;

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(ExperimentWatchdog), ServiceLifecycleStage.Active, Start, Stop);

    Task Start(CancellationToken cancellationToken)
    {
        // Deaths already in the table when this silo joined are old news (their runs were recovered then, or the
        // reminders do it).
        var known = membership.CurrentSnapshot.Members.Values.Where(m => m.Status == SiloStatus.Dead).Select(m => m.SiloAddress).ToHashSet();
        _watching = Task.Run(() => WatchAsync(known, _stop.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    async Task Stop(CancellationToken cancellationToken)
    {
        await _stop.CancelAsync();
        try { await _watching.WaitAsync(cancellationToken); }
        catch (OperationCanceledException) { }
    }

    async Task WatchAsync(HashSet<SiloAddress> known, CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var snapshot in membership.MembershipUpdates.WithCancellation(cancellationToken))
            {
                var dead = snapshot.Members.Values.Where(m => m.Status == SiloStatus.Dead && known.Add(m.SiloAddress)).ToList();
                if (dead.Count == 0) continue;
                foreach (var silo in dead) LogSiloDead(silo.SiloAddress);
                await WakeRunsAsync(cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    async Task WakeRunsAsync(CancellationToken cancellationToken)
    {
        try
        {
            var ids = await grains.GetGrain<IExperimentDirectoryGrain>(GrainKeys.ExperimentDirectory).List();
            foreach (var id in ids)
            {
                cancellationToken.ThrowIfCancellationRequested();
                try
                {
                    await grains.GetGrain<IExperimentGrain>(id).GetStatus();
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    LogWakeFailed(e, id);
                }
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The directory itself may have been on the dead silo and not be back yet; the reminders cover that.
            LogWakeFailed(e, GrainKeys.ExperimentDirectory);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Silo {Silo} was declared dead; waking the experiments whose controllers it may have held")]
    private partial void LogSiloDead(SiloAddress silo);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not wake experiment {ExperimentId} after a silo death")]
    private partial void LogWakeFailed(Exception error, string experimentId);
}
