using System.Diagnostics;
using System.Globalization;

namespace RlhfActors.Client.Progress;

/// <summary>
/// One line redrawn in place for a long command that is not a run (<c>rlhf eval</c> over many examples): "label
/// done/total (pct%), ETA". Only on a terminal: a pipe or log gets nothing, since its reader wants the result, not a
/// stream of carriage returns. At most a few redraws a second.
/// </summary>
public sealed class CountProgress(TextWriter output, bool interactive, string label)
{
    static readonly TimeSpan MinInterval = TimeSpan.FromMilliseconds(200);
    readonly Stopwatch _clock = Stopwatch.StartNew();
    TimeSpan? _lastDrawn;
    int _drawnWidth;

    public void Report(int done, int total)
    {
        if (!interactive || total <= 0) return;
        var now = _clock.Elapsed;
        if (done < total && now - _lastDrawn < MinInterval) return; // the last count is always drawn
        _lastDrawn = now;
        var line = string.Create(CultureInfo.InvariantCulture, $"{label} {done}/{total} ({100.0 * done / total:0}%)");
        if (done > 0 && done < total)
            line += $", ETA {FormatSeconds(now.TotalSeconds / done * (total - done))}";
        // Pad over a longer previous line, so no characters of it are left behind.
        output.Write("\r" + line.PadRight(_drawnWidth));
        output.Flush();
        _drawnWidth = line.Length;
    }

    /// <summary>Ends the line so that what follows starts on a fresh one.</summary>
    public void Finish()
    {
        if (!interactive || _drawnWidth == 0) return;
        output.WriteLine();
        _drawnWidth = 0;
    }

    static string FormatSeconds(double seconds) => seconds >= 3600
        ? string.Create(CultureInfo.InvariantCulture, $"{(int)(seconds / 3600)}h{(int)(seconds % 3600 / 60):00}m")
        : seconds >= 60
            ? string.Create(CultureInfo.InvariantCulture, $"{(int)(seconds / 60)}m{(int)(seconds % 60):00}s")
            : string.Create(CultureInfo.InvariantCulture, $"{seconds:0}s");
}
