using StackExchange.Redis;

namespace RlhfActors.Silo.Hosting;

/// <summary>Redis did not answer (or refused the credentials) at the endpoint a silo or client was given.</summary>
public sealed class RedisUnreachableException(string message, Exception? cause = null) : Exception(message, cause);

/// <summary>
/// Asks Redis for a PING before a silo or client builds anything on it. Orleans' providers, given an unreachable
/// Redis, retry in the background and the silo hangs in start-up or fails minutes later with a stack trace; this
/// fails within <see cref="RedisOptions.ConnectTimeoutSeconds"/> with one line that names the endpoint.
/// </summary>
public static class RedisPreflight
{
    public static async Task CheckAsync(RedisOptions redis, CancellationToken cancellationToken = default)
    {
        var options = redis.ToConfigurationOptions();
        options.AbortOnConnectFail = true;
        options.ConnectRetry = 1;
        options.ClientName = "rlhf-preflight";
        ConnectionMultiplexer connection;
        try
        {
            connection = await ConnectionMultiplexer.ConnectAsync(options).WaitAsync(
                TimeSpan.FromSeconds(redis.ConnectTimeoutSeconds + 2), cancellationToken);
        }
        catch (Exception e) when (e is RedisException or TimeoutException or System.Net.Sockets.SocketException)
        {
            throw new RedisUnreachableException($"cannot reach Redis at {redis.Describe()} within {redis.ConnectTimeoutSeconds} s ({FirstLine(e)})", e);
        }
        await using (connection)
        {
            try
            {
                await connection.GetDatabase().PingAsync().WaitAsync(TimeSpan.FromSeconds(redis.ConnectTimeoutSeconds), cancellationToken);
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
                throw new RedisUnreachableException($"Redis at {redis.Describe()} did not answer PING ({FirstLine(e)})", e);
            }
        }
    }

    /// <summary>StackExchange.Redis messages run over several lines of diagnostics; the first says what happened.
    /// They never hold the password (the library redacts it from its own messages).</summary>
    static string FirstLine(Exception e)
    {
        var message = e.Message;
        var end = message.IndexOfAny(['\r', '\n']);
        if (end > 0) message = message[..end];
        return message.Length > 200 ? message[..200] + "…" : message;
    }
}
