namespace RlhfActors.Client.Progress;

/// <summary>
/// One line redrawn in place on a terminal, for a long command that is not a run (<c>rlhf plot</c> of a large run):
/// a person sees it move. Off a terminal (a pipe, a log, a test) it writes nothing, so what the command prints stays
/// its result alone.
/// </summary>
public sealed class StatusLine(TextWriter output, bool interactive)
{
    int _drawnWidth;

    public void Show(string text)
    {
        if (!interactive) return;
        output.Write('\r' + (text.Length < _drawnWidth ? text.PadRight(_drawnWidth) : text));
        output.Flush();
        _drawnWidth = text.Length;
    }

    /// <summary>Erases the line, so the next output starts at the left margin of an empty line.</summary>
    public void Clear()
    {
        if (!interactive || _drawnWidth == 0) return;
        output.Write('\r' + new string(' ', _drawnWidth) + '\r');
        output.Flush();
        _drawnWidth = 0;
    }
}
