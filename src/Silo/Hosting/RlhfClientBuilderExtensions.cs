using Orleans.Configuration;
using RlhfActors.Abstractions.Messaging;

namespace RlhfActors.Silo.Hosting;

public static class RlhfClientBuilderExtensions
{
    /// <summary>An external client's side of <see cref="RlhfLimits"/>: it must accept weight-sized responses too.</summary>
    public static IClientBuilder AddRlhfClientLimits(this IClientBuilder client)
    {
        client.Configure<ClientMessagingOptions>(o =>
        {
            o.MaxMessageBodySize = RlhfLimits.MaxMessageBodyBytes;
            o.ResponseTimeout = RlhfLimits.DefaultResponseTimeout;
        });
        return client;
    }
}
