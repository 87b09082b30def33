namespace RlhfActors.Client;

/// <summary>Exit codes of every rlhf command.</summary>
public static class ExitCodes
{
    public const int Ok = 0;
    /// <summary>The command ran and failed (an experiment failed, generation threw).</summary>
    public const int Failed = 1;
    /// <summary>Bad arguments or a bad config: nothing was started.</summary>
    public const int Usage = 2;
    /// <summary>No silo answered at the <c>--cluster</c> endpoint.</summary>
    public const int NoSilo = 3;
    /// <summary>The cluster knows no experiment of that id (never started).</summary>
    public const int UnknownExperiment = 4;
    /// <summary>The experiment is in a state that does not allow the request (pause a paused run, resume a running one).</summary>
    public const int WrongState = 5;
    /// <summary>Interrupted with Ctrl+C (128 + SIGINT, as shells report it).</summary>
    public const int Cancelled = 130;
}
