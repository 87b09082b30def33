using System.Net;

namespace RlhfActors.Tests.Http;

/// <summary>A response body far larger than any client should read, generated while it is sent (one 64 KiB block
/// written again and again, never held whole), with its Content-Length declared or chunked. It records whether the
/// first response got to the end: a client that stops reading at its cap and drops the connection makes a write
/// fail long before, since loopback socket buffers hold a few MiB, not 50.</summary>
sealed class HugeBody(long bytes, bool chunked)
{
    const int BlockBytes = 64 << 10;

    readonly TaskCompletionSource<bool> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public long Bytes { get; } = bytes;

    /// <summary>True when the first response sent every byte, false when the client hung up first.</summary>
    public Task<bool> Finished => _done.Task;

    /// <summary>A responder for <see cref="LoopbackHttpServer"/>: <paramref name="status"/>, then this body.</summary>
    public LoopbackHttpServer.Responder Responder(int status) => async (_, response, stopping) =>
    {
        var block = new byte[BlockBytes];
        Array.Fill(block, (byte)'x');
        response.StatusCode = status;
        response.ContentType = "application/json";
        if (chunked) response.SendChunked = true;
        else response.ContentLength64 = Bytes;
        try
        {
            // Bounded by the block count; a client that went away fails the write, and Dispose stops the server.
            for (long written = 0; written < Bytes;)
            {
                int next = (int)Math.Min(BlockBytes, Bytes - written);
                await response.OutputStream.WriteAsync(block.AsMemory(0, next), stopping);
                written += next;
            }
            _done.TrySetResult(true);
        }
        catch
        {
            _done.TrySetResult(false);
            throw;
        }
    };
}
