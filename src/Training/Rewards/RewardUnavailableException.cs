namespace RlhfActors.Training.Rewards;

/// <summary>
/// A reward server stayed down: every retry failed with a timeout, a connection error, a 5xx or a 429. Unlike an
/// answer that is wrong (4xx, a malformed body), this is an outage a caller can wait out: the run pauses and a resume
/// scores the same step again.
/// </summary>
public sealed class RewardUnavailableException(string message, Exception? lastError)
    : HttpRequestException(message, lastError);
