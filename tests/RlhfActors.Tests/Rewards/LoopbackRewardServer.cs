using RlhfActors.Tests.Http;

namespace RlhfActors.Tests.Rewards;

/// <summary>A scoring endpoint on 127.0.0.1 for <see cref="Training.Rewards.HttpReward"/> tests
/// (<see cref="LoopbackHttpServer"/> underneath): it keeps every request body and answers with the handler's reply.</summary>
sealed class LoopbackRewardServer : IDisposable
{
    public sealed record Reply(int Status, string Body)
    {
        public static Reply Scores(params double[] scores) =>
            new(200, "{\"scores\": [" + string.Join(", ", scores.Select(s => s.ToString(System.Globalization.CultureInfo.InvariantCulture))) + "]}");
    }

    /// <summary>Called with the 1-based hit number, the request body and a token cancelled when the server stops.</summary>
    public delegate Task<Reply> Handler(int hit, string body, CancellationToken stopping);

    readonly LoopbackHttpServer _server;
    readonly List<string> _bodies = [];

    public LoopbackRewardServer(Handler handler) =>
        _server = new LoopbackHttpServer("/score/", async (request, stopping) =>
        {
            lock (_bodies) _bodies.Add(request.Body);
            var reply = await handler(request.Hit, request.Body, stopping);
            return (reply.Status, reply.Body);
        });

    public LoopbackRewardServer(Func<int, Reply> reply) : this((hit, _, _) => Task.FromResult(reply(hit))) { }

    public Uri Url => _server.Url;

    public int Hits => _server.Hits;

    public IReadOnlyList<string> Bodies
    {
        get { lock (_bodies) return _bodies.ToArray(); }
    }

    public void Dispose() => _server.Dispose();
}
