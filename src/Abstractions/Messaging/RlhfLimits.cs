namespace RlhfActors.Abstractions.Messaging;

/// <summary>
/// The messaging limits of the whole system, in one place. Silos and clients read the figures from here
/// (src/Silo applies them); grain interfaces name <see cref="LongCallTimeout"/> on the calls that run model work.
/// </summary>
public static class RlhfLimits
{
    /// <summary>
    /// Largest message body a silo or client accepts: 512 MiB. Orleans' default (100 MB) is too small for the
    /// rollouts and whole-message versions of mid-sized models; policy versions of any size travel in chunks
    /// (<see cref="MaxSyncChunkBytes"/>), so no model needs a bigger figure here.
    /// </summary>
    public const int MaxMessageBodyBytes = 512 * 1024 * 1024;

    /// <summary>
    /// Largest chunk of a policy version's bytes in one message (<c>weight_sync.chunk_bytes</c> at most): a quarter of
    /// <see cref="MaxMessageBodyBytes"/>, so a chunk and its framing always fit with room to spare.
    /// </summary>
    public const int MaxSyncChunkBytes = MaxMessageBodyBytes / 4;

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

    /// <summary>
    /// Response timeout of one chunk of a policy version (<c>IPolicyGrain.GetChunk</c>, <c>PutChunk</c>): at most
    /// <see cref="MaxSyncChunkBytes"/> (128 MiB) per call, a few seconds even at 100 MB/s, but several pullers'
    /// chunks queue at the one registry grain; two minutes covers that queue without hiding a dead silo for ten.
    /// </summary>
    public const string ChunkCallTimeout = "00:02:00";
}
