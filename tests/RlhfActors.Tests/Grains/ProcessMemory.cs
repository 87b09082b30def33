using System.Diagnostics;
using System.Diagnostics.Tracing;
using System.Runtime.InteropServices;

namespace RlhfActors.Tests.Grains;

/// <summary>
/// What this process retains, in two parts, each with its known noise taken out:
/// <list type="bullet">
/// <item><b>managed</b>: the heap after full collections, less the large buffers <c>ArrayPool</c> took on. Orleans'
/// connections rent a 16 MiB buffer from the shared pool to write a multi-MB message (a policy version crossing
/// silos) and hand it back to the pool, which keeps it for the next one: a bounded cache that grows in 16.8 MB steps
/// as new threads send, not anything a run left behind (found with this listener's stacks);</item>
/// <item><b>native</b>: the bytes glibc's malloc has handed out and not had back (<c>mallinfo2</c>), which is where
/// TorchSharp's CPU tensors live, unseen by the managed heap. Elsewhere than glibc, the resident set less the GC's
/// committed memory after a heap trim: the same tensors, plus ±15 MB of page-level noise a run.</item>
/// </list>
/// </summary>
public sealed class ProcessMemory : EventListener
{
    const string ArrayPoolSource = "System.Buffers.ArrayPoolEventSource";
    /// <summary>Buffers this large are the pipes' message buffers; the pools' small ones are noise well inside any bound.</summary>
    const int LargeBuffer = 1 << 20;
    // BufferAllocatedReason.OverMaximumSize: never pooled, garbage once used.
    const int OverMaximumSize = 1;

    // Net bytes of large buffers the pools took on (allocated for pooling, less trimmed and dropped) while listening.
    long _pooled;

    public readonly record struct Snapshot(long Managed, long Native);

    protected override void OnEventSourceCreated(EventSource source)
    {
        if (source.Name == ArrayPoolSource) EnableEvents(source, EventLevel.Verbose);
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        // BufferAllocated (id, size, pool, bucket, reason), BufferTrimmed (id, size, pool), BufferDropped (id, size, …).
        if (e.Payload is not { Count: >= 2 } payload) return;
        var size = Convert.ToInt32(payload[1]);
        if (size < LargeBuffer) return;
        switch (e.EventName)
        {
            case "BufferAllocated" when Convert.ToInt32(payload[4]) != OverMaximumSize:
                Interlocked.Add(ref _pooled, size);
                break;
            case "BufferTrimmed" or "BufferDropped":
                Interlocked.Add(ref _pooled, -size);
                break;
        }
    }

    /// <summary>After full, compacting collections (twice: finalizers run in between).</summary>
    public Snapshot Measure()
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        var managed = GC.GetTotalMemory(forceFullCollection: false) - Interlocked.Read(ref _pooled);
        return new Snapshot(managed, MallocInUse() ?? ResidentLessManaged());
    }

    static long? MallocInUse()
    {
        if (!OperatingSystem.IsLinux()) return null;
        try
        {
            var info = mallinfo2();
            // In use: from the heaps (uordblks) and as mappings of their own (hblkhd: large tensors).
            return (long)(info.uordblks + info.hblkhd);
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            return null; // not glibc 2.33+ (musl has neither mallinfo2 nor malloc_trim)
        }
    }

    static long ResidentLessManaged()
    {
        try
        {
            if (OperatingSystem.IsLinux()) malloc_trim(0);
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
        }
        using var process = Process.GetCurrentProcess();
        return process.WorkingSet64 - GC.GetGCMemoryInfo().TotalCommittedBytes;
    }

    [StructLayout(LayoutKind.Sequential)]
    struct MallInfo2
    {
        public nuint arena, ordblks, smblks, hblks, hblkhd, usmblks, fsmblks, uordblks, fordblks, keepcost;
    }

    [DllImport("libc")]
    static extern MallInfo2 mallinfo2();

    [DllImport("libc")]
    static extern int malloc_trim(nuint pad);
}
