using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Serialization;
using Orleans.Storage;
using RlhfActors.Abstractions.Messaging;
using RlhfActors.Grains.Device;
using RlhfActors.Grains.Experiments;
using RlhfActors.Grains.Hosting;

namespace RlhfActors.Silo.Hosting;

public static class RlhfSiloBuilderExtensions
{
    /// <summary>A localhost silo (development clustering: the first silo is the membership primary) running the
    /// RLHF grains. Used by the standalone silo and by the client's embedded silo.</summary>
    public static ISiloBuilder UseRlhfSilo(this ISiloBuilder silo, RlhfSiloOptions options)
    {
        options.Validate();
        silo.UseLocalhostClustering(options.SiloPort, options.GatewayPort, primarySiloEndpoint: null,
            serviceId: options.ServiceId, clusterId: options.ClusterId);
        return silo.AddRlhfRuntime();
    }

    /// <summary>
    /// Everything a silo needs to host the RLHF grains except clustering: messaging limits, grain storage, device
    /// workers, accelerator placement. Test clusters call this with their own clustering, so they run with the real
    /// silo's settings.
    /// </summary>
    /// <param name="hardware">The devices this silo advertises; null reads section "Rlhf:Hardware" of the silo's
    /// configuration and detects whatever it leaves unset.</param>
    public static ISiloBuilder AddRlhfRuntime(this ISiloBuilder silo, SiloHardwareOptions? hardware = null)
    {
        silo.Configure<SiloMessagingOptions>(o =>
        {
            // Weights travel as one message per policy version; see RlhfLimits for the figures and why.
            o.MaxMessageBodySize = RlhfLimits.MaxMessageBodyBytes;
            o.ResponseTimeout = RlhfLimits.DefaultResponseTimeout;
        });
        // In-memory for the embedded default; a cluster replaces it with Redis. State is written with the Orleans
        // serializer (the messages' [GenerateSerializer] contracts) rather than the default Newtonsoft JSON, which
        // cannot read back immutable collections or init-only records.
        silo.AddMemoryGrainStorage(GrainStorage.Experiments, (OptionsBuilder<MemoryGrainStorageOptions> storage) =>
            storage.Configure<Serializer>((o, serializer) => o.GrainStorageSerializer = new OrleansGrainStorageSerializer(serializer)));
        silo.Services.AddRlhfGrainServices();
        silo.AddAcceleratorPlacement(hardware
            ?? silo.Configuration.GetSection(SiloHardwareOptions.Section).Get<SiloHardwareOptions>()
            ?? new SiloHardwareOptions());
        return silo;
    }
}
