using System.Net;
using System.Net.Sockets;

namespace RlhfActors.Bench;

/// <summary>The baseline of the cross-process benches: the same bytes through one plain loopback TCP connection in
/// this process, received into fresh arrays of the blocks' sizes (as a grain message's bytes arrive in a fresh
/// array), the sender and receiver on two tasks.</summary>
public static class Loopback
{
    public static async Task TransferAsync(IReadOnlyList<ReadOnlyMemory<byte>> blocks)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var sender = new TcpClient();
        await sender.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port);
        using var receiver = await listener.AcceptTcpClientAsync();
        var send = Task.Run(async () =>
        {
            var stream = sender.GetStream();
            foreach (var block in blocks) await stream.WriteAsync(block);
        });
        var receive = Task.Run(async () =>
        {
            var stream = receiver.GetStream();
            foreach (var block in blocks) await stream.ReadExactlyAsync(new byte[block.Length]);
        });
        await Task.WhenAll(send, receive);
    }
}
