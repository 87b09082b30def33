using System.Text.Json;

namespace RlhfActors.Grains.Experiments;

/// <summary>
/// An experiment's claim on its output_dir: a lock file the controller creates exclusively when the run starts
/// (<see cref="FileMode.CreateNew"/>: of two runs naming one folder at once, exactly one wins, on any silo that shares
/// the folder). Creating it is also the start's writability check, so an output_dir that cannot be written is refused
/// before any training rather than at the first checkpoint. The lock stays with the folder after the run ends: the
/// folder holds that run's checkpoints, and the same experiment id may claim it again (a re-run or a resume).
/// </summary>
public static class OutputDirectoryClaim
{
    public const string LockFileName = ".rlhf-experiment.lock";

    /// <summary>Claims <paramref name="outputDir"/> for <paramref name="experimentId"/>. Throws
    /// <see cref="ArgumentException"/> when the folder cannot be created or written, and
    /// <see cref="InvalidOperationException"/> when another experiment holds it.</summary>
    public static void Claim(string outputDir, string experimentId)
    {
        var lockPath = Path.Combine(outputDir, LockFileName);
        try
        {
            Directory.CreateDirectory(outputDir);
            using var stream = new FileStream(lockPath, FileMode.CreateNew, FileAccess.Write, FileShare.None);
            JsonSerializer.Serialize(stream, new LockRecord(experimentId, DateTimeOffset.UtcNow, Environment.MachineName, Environment.ProcessId));
            stream.Flush(flushToDisk: true);
            return;
        }
        catch (IOException) when (File.Exists(lockPath))
        {
            // Held already: by this experiment (fine) or by another (refused below).
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException or NotSupportedException)
        {
            throw new ArgumentException($"output_dir '{outputDir}' cannot be written: {e.Message}");
        }

        var holder = ReadHolder(lockPath);
        if (holder == experimentId) return;
        throw new InvalidOperationException(
            $"output_dir '{outputDir}' is claimed by experiment '{holder ?? "(unreadable lock)"}' ({lockPath}); " +
            "choose another output_dir, or remove the lock file if that run's output is no longer wanted");
    }

    /// <summary>The experiment id in a lock file, or null when it cannot be read.</summary>
    public static string? ReadHolder(string lockPath)
    {
        try
        {
            return JsonSerializer.Deserialize<LockRecord>(File.ReadAllText(lockPath))?.Experiment;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            return null;
        }
    }

    sealed record LockRecord(string Experiment, DateTimeOffset ClaimedAt, string Host, int Pid);
}
