using Microsoft.Extensions.DependencyInjection;
using RlhfActors.Grains.Cluster;
using RlhfActors.Grains.Device;
using RlhfActors.Grains.Experiments;
using RlhfActors.Grains.Policy;

namespace RlhfActors.Grains.Hosting;

public static class GrainServiceCollectionExtensions
{
    /// <summary>What the grains need from a silo's container: the device workers and their options (validated
    /// when the silo starts, so a bad figure stops the silo instead of the first experiment).</summary>
    public static IServiceCollection AddRlhfGrainServices(this IServiceCollection services)
    {
        services.AddSingleton<DeviceWorkers>();
        services.AddSingleton<IIncomingGrainCallFilter, TrainingExceptionFilter>();
        services.AddSingleton<ExperimentWatchdog>();
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<ExperimentWatchdog>());
        services.AddOptions<ExperimentDriverOptions>().BindConfiguration(ExperimentDriverOptions.Section)
            .Validate(o => o.StepsPerCall is >= 1 and <= 10_000,
                $"{ExperimentDriverOptions.Section}:{nameof(ExperimentDriverOptions.StepsPerCall)} must be between 1 and 10000")
            .ValidateOnStart();
        services.AddOptions<PolicyGrainOptions>().BindConfiguration(PolicyGrainOptions.Section)
            .Validate(o => o.KeepVersions is >= 1 and <= 64,
                $"{PolicyGrainOptions.Section}:{nameof(PolicyGrainOptions.KeepVersions)} must be between 1 and 64")
            .ValidateOnStart();
        return services;
    }
}
