namespace RlhfActors.Training.Judging;

/// <summary>
/// The judge's endpoint stayed down (every retry of some request failed with a timeout, a connection error, a 5xx
/// or a 429). No pair is lost: <see cref="Completed"/> holds the verdicts already in hand by query index and
/// <see cref="Pending"/> the indices still to judge, so a caller can keep those pairs and submit them again later.
/// Together they cover every query index exactly once.
/// </summary>
public sealed class JudgeUnavailableException : Exception
{
    public JudgeUnavailableException(string message, Exception? lastError,
        IReadOnlyDictionary<int, JudgeVerdict> completed, IReadOnlyList<int> pending)
        : base(message, lastError)
    {
        ArgumentNullException.ThrowIfNull(completed);
        ArgumentNullException.ThrowIfNull(pending);
        Completed = completed;
        Pending = pending;
    }

    /// <summary>Verdicts of the queries fully judged (every order answered) before the endpoint gave out.</summary>
    public IReadOnlyDictionary<int, JudgeVerdict> Completed { get; }

    /// <summary>Indices of the queries not judged, ascending, including those whose requests were cancelled.</summary>
    public IReadOnlyList<int> Pending { get; }
}
