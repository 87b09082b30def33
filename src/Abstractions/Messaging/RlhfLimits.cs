namespace RlhfActors.Abstractions.Messaging;

/// <summary>
/// The messaging limits of the whole system, in one place. Silos and clients read the figures from here
/// (src/Silo applies them); grain interfaces name <see cref="LongCallTimeout"/> on the calls that run model work.
/// </summary>
public static class RlhfLimits
{
    /// <summary>
    /// Largest message body a silo or client accepts: 512 MiB. Orleans' default (100 MB) fails at the first
    /// policy of a few hundred million bf16 parameters, which travels as one <c>PolicyVersion</c> message.
    /// Bigger models will need chunked weight transfer rather than a bigger figure here.
    /// </summary>
    public const int MaxMessageBodyBytes = 512 * 1024 * 1024;

    /// <summary>
    /// Response timeout of ordinary calls (status, version numbers): Orleans' default of 30 s, kept short so a
    /// dead silo is noticed quickly.
    /// </summary>
    public static readonly TimeSpan DefaultResponseTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Response timeout of calls that run model work (initialise a learner, a chunk of training steps, a held-out
    /// evaluation, a checkpoint, a weight transfer). Set per method with
    /// <c>[ResponseTimeout(RlhfLimits.LongCallTimeout)]</c> rather than globally, so that only these calls wait long.
    /// A training call is a chunk of a few steps; if one chunk can exceed this, make the chunk smaller
    /// (<c>ExperimentDriverOptions.StepsPerCall</c>), not the timeout larger.
    /// </summary>
    public const string LongCallTimeout = "00:10:00";
}
