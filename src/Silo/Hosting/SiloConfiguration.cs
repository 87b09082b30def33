using System.Reflection;
using Microsoft.Extensions.Configuration;
using RlhfActors.Grains.Device;
using RlhfActors.Grains.Experiments;
using RlhfActors.Grains.Policy;

namespace RlhfActors.Silo.Hosting;

/// <summary>
/// Reads a silo's (and a client's) settings from configuration: the environment variables of .NET's form
/// (<c>Rlhf__Redis__Endpoint</c> is key <c>Rlhf:Redis:Endpoint</c>), the form that docker compose and Kubernetes
/// manifests set. Every key under "Rlhf" must name a setting of one of <see cref="Sections"/>: a misspelt variable is
/// an error that names it, not a setting silently left at its default.
/// </summary>
public static class SiloConfiguration
{
    /// <summary>Each options type bound under "Rlhf", with its section; the only settings a silo or client reads.</summary>
    public static IReadOnlyList<(string Section, Type Options)> Sections { get; } =
    [
        (RlhfSiloOptions.Section, typeof(RlhfSiloOptions)),
        (RedisOptions.Section, typeof(RedisOptions)),
        (ClusterMembershipSettings.Section, typeof(ClusterMembershipSettings)),
        (SiloHardwareOptions.Section, typeof(SiloHardwareOptions)),
        (ExperimentDriverOptions.Section, typeof(ExperimentDriverOptions)),
        (PolicyGrainOptions.Section, typeof(PolicyGrainOptions)),
    ];

    /// <summary>The process's environment variables as configuration.</summary>
    public static IConfiguration FromEnvironment() => new ConfigurationBuilder().AddEnvironmentVariables().Build();

    /// <summary>Every configuration key a silo or client reads (e.g. <c>Rlhf:Redis:Password</c>).</summary>
    public static IEnumerable<string> KnownKeys() =>
        Sections.SelectMany(s => s.Options.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanWrite)
            .Select(p => $"{s.Section}:{p.Name}"));

    /// <summary>Whether <paramref name="key"/> (any case, ':' or '__' separated) is a setting a silo or client reads.</summary>
    public static bool IsKnownKey(string key)
    {
        var normalized = key.Replace("__", ":", StringComparison.Ordinal);
        return KnownKeys().Any(k => string.Equals(k, normalized, StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>Throws naming the first key under "Rlhf" that no setting reads.</summary>
    public static void ThrowIfUnknownKeys(IConfiguration configuration)
    {
        foreach (var entry in configuration.GetSection(RlhfSiloOptions.Section).AsEnumerable())
        {
            if (entry.Value is null) continue; // a section, not a setting
            if (!IsKnownKey(entry.Key))
                throw new ArgumentException($"{entry.Key} (environment variable {entry.Key.Replace(":", "__", StringComparison.Ordinal)}) is not a setting; " +
                                            $"known ones: {string.Join(", ", KnownKeys())}");
        }
    }

    /// <summary>What every entry point (rlhf silo, src/Silo, a client) reads first: the silo and Redis settings,
    /// after refusing any key under "Rlhf" that no setting reads. Not validated yet: flags may still override them.</summary>
    public static (RlhfSiloOptions Silo, RedisOptions Redis) Read(IConfiguration configuration)
    {
        ThrowIfUnknownKeys(configuration);
        return (Silo(configuration), Redis(configuration));
    }

    public static RlhfSiloOptions Silo(IConfiguration configuration) => Bind<RlhfSiloOptions>(configuration, RlhfSiloOptions.Section);

    public static RedisOptions Redis(IConfiguration configuration) => Bind<RedisOptions>(configuration, RedisOptions.Section);

    public static ClusterMembershipSettings Membership(IConfiguration configuration) =>
        Bind<ClusterMembershipSettings>(configuration, ClusterMembershipSettings.Section);

    /// <summary>Binds a section; a value of the wrong type is an <see cref="ArgumentException"/> naming its key
    /// (never its value: it may be the password).</summary>
    static T Bind<T>(IConfiguration configuration, string section) where T : new()
    {
        try
        {
            return configuration.GetSection(section).Get<T>() ?? new T();
        }
        catch (InvalidOperationException e)
        {
            // The binder's message holds the value ("Failed to convert configuration value 'x' at 'Rlhf:Key' to …"),
            // which may be a secret: keep the key only.
            var match = System.Text.RegularExpressions.Regex.Match(e.Message, @" at '([^']+)'");
            var key = match.Success ? match.Groups[1].Value : section;
            throw new ArgumentException($"{key}: the value is not a {Describe(e)}");
        }
    }

    static string Describe(InvalidOperationException e) =>
        e.Message.Contains("Int32", StringComparison.Ordinal) ? "whole number" :
        e.Message.Contains("Boolean", StringComparison.Ordinal) ? "boolean (true or false)" : "valid value";
}
