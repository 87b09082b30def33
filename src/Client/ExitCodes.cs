namespace RlhfActors.Client;

/// <summary>Exit codes of every rlhf command.</summary>
public static class ExitCodes
{
    public const int Ok = 0;
    /// <summary>The command ran and failed (an experiment failed, generation threw).</summary>
    public const int Failed = 1;
    /// <summary>Bad arguments or a bad config: nothing was started.</summary>
    public const int Usage = 2;
    /// <summary>Interrupted with Ctrl+C (128 + SIGINT, as shells report it).</summary>
    public const int Cancelled = 130;
}
