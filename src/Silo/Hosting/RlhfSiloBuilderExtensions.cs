using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Dashboard;
using Orleans.Persistence;
using Orleans.Serialization;
using Orleans.Storage;
using RlhfActors.Abstractions.Messaging;
using RlhfActors.Grains.Device;
using RlhfActors.Grains.Experiments;
using RlhfActors.Grains.Hosting;

namespace RlhfActors.Silo.Hosting;

public static class RlhfSiloBuilderExtensions
{
    /// <summary>
    /// A silo running the RLHF grains, in one of two modes. Without <paramref name="redis"/>: the embedded default, a
    /// localhost development cluster (the first silo is the membership primary) with memory storage. With it: a
    /// member of a Redis cluster, whose membership, grain state (experiment records, policy version indexes) and
    /// reminders live in Redis, so any silo of the cluster, or one restarted, finds every run again. Used by
    /// <c>rlhf silo</c>, src/Silo and the client's embedded silo.
    /// </summary>
    public static ISiloBuilder UseRlhfSilo(this ISiloBuilder silo, RlhfSiloOptions options, RedisOptions? redis = null)
    {
        options.Validate();
        // The dashboard's silo side (its grain service, telemetry reader and grain-call profiler); its web side is the
        // host's (SiloHost), so a silo without a dashboard port pays for neither.
        if (options.DashboardPort is not null) silo.AddDashboard();
        if (redis is not { IsSet: true })
        {
            silo.UseLocalhostClustering(options.SiloPort, options.GatewayPort, primarySiloEndpoint: null,
                serviceId: options.ServiceId, clusterId: options.ClusterId);
            return silo.AddRlhfRuntime();
        }

        redis.Validate();
        silo.Configure<ClusterOptions>(o =>
        {
            o.ClusterId = options.ClusterId;
            o.ServiceId = options.ServiceId;
        });
        if (options.Kubernetes)
        {
            // Pod IP and pod-to-silo mapping from the downward API; the ids and ports below are applied after it
            // (PostConfigure), so one set of Rlhf__ variables configures a silo in every environment.
            // DeleteDefunctSiloPods: a pod whose silo the cluster declared dead is deleted, so its Deployment starts a
            // fresh one instead of leaving a zombie that Kubernetes still counts as running (off by default in Orleans).
            silo.UseKubernetesHosting(k8s => k8s.Configure(o => o.DeleteDefunctSiloPods = true));
            silo.Services.PostConfigure<ClusterOptions>(o =>
            {
                o.ClusterId = options.ClusterId;
                o.ServiceId = options.ServiceId;
            });
            silo.Services.PostConfigure<EndpointOptions>(o =>
            {
                o.SiloPort = options.SiloPort;
                o.GatewayPort = options.GatewayPort;
            });
        }
        else if (options.ResolveAdvertisedAddress() is { } advertised)
        {
            // A loopback address keeps the silo on loopback; any other listens on every interface (containers).
            silo.ConfigureEndpoints(advertised, options.SiloPort, options.GatewayPort, listenOnAnyHostAddress: !IPAddress.IsLoopback(advertised));
        }
        else
        {
            silo.ConfigureEndpoints(options.SiloPort, options.GatewayPort, listenOnAnyHostAddress: true);
        }
        silo.UseRedisClustering(o => o.ConfigurationOptions = redis.ToConfigurationOptions());
        var membership = SiloConfiguration.Membership(silo.Configuration);
        membership.Validate();
        silo.Configure<ClusterMembershipOptions>(membership.Apply);
        silo.UseRedisReminderService(o => o.ConfigurationOptions = redis.ToConfigurationOptions());
        return silo.AddRlhfRuntime(redis: redis);
    }

    /// <summary>
    /// Everything a silo needs to host the RLHF grains except clustering: messaging limits, grain storage, device
    /// workers, accelerator placement. Test clusters call this with their own clustering, so they run with the real
    /// silo's settings.
    /// </summary>
    /// <param name="hardware">The devices this silo advertises; null reads section "Rlhf:Hardware" of the silo's
    /// configuration and detects whatever it leaves unset.</param>
    /// <param name="redis">Where grain state lives: null for memory (the embedded default), else Redis.</param>
    public static ISiloBuilder AddRlhfRuntime(this ISiloBuilder silo, SiloHardwareOptions? hardware = null, RedisOptions? redis = null)
    {
        silo.Configure<SiloMessagingOptions>(o =>
        {
            // Weights travel as one message per policy version; see RlhfLimits for the figures and why.
            o.MaxMessageBodySize = RlhfLimits.MaxMessageBodyBytes;
            o.ResponseTimeout = RlhfLimits.DefaultResponseTimeout;
        });
        // State is written with the Orleans serializer (the messages' [GenerateSerializer] contracts) rather than the
        // default Newtonsoft JSON, which cannot read back immutable collections or init-only records.
        if (redis is { IsSet: true })
        {
            silo.AddRedisGrainStorage(GrainStorage.Experiments, (OptionsBuilder<RedisStorageOptions> storage) =>
                storage.Configure<Serializer>((o, serializer) =>
                {
                    o.ConfigurationOptions = redis.ToConfigurationOptions();
                    o.GrainStorageSerializer = new OrleansGrainStorageSerializer(serializer);
                }));
        }
        else
        {
            // Reminders keep a run's controller coming back after a lost activation; in one process they need no
            // durability (the process is the whole cluster).
            silo.UseInMemoryReminderService();
            silo.AddMemoryGrainStorage(GrainStorage.Experiments, (OptionsBuilder<MemoryGrainStorageOptions> storage) =>
                storage.Configure<Serializer>((o, serializer) => o.GrainStorageSerializer = new OrleansGrainStorageSerializer(serializer)));
        }
        // The view-synchronous grain directory: when a silo dies, the default directory (LocalGrainDirectory)
        // deactivates every activation on the survivors whose registration that silo's partition held, which is about
        // 1/N of all grains, a run's controller or a learner group's rank 0 among them, losing the in-memory model a
        // survivor still had. This directory recovers the dead range by asking the live silos what they host, so a
        // lost silo takes only its own activations with it. Experimental in Orleans (ORLEANSEXP003); the chaos tests
        // (tests/RlhfActors.Tests/Cluster) are what hold it to that.
#pragma warning disable ORLEANSEXP003
        silo.AddDistributedGrainDirectory();
#pragma warning restore ORLEANSEXP003
        silo.Services.AddRlhfGrainServices();
        silo.AddAcceleratorPlacement(hardware
            ?? silo.Configuration.GetSection(SiloHardwareOptions.Section).Get<SiloHardwareOptions>()
            ?? new SiloHardwareOptions());
        return silo;
    }
}
