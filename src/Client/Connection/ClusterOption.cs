using System.CommandLine;

namespace RlhfActors.Client.Connection;

/// <summary>The <c>--cluster host:port|redis://host:port</c> option of the commands that talk to a running silo.</summary>
public static class ClusterOption
{
    /// <param name="defaultToStandalone">Default to the standalone silo's gateway (the control commands); without it
    /// the option is null when not given (<c>run</c>, which then hosts its own silo).</param>
    public static Option<ClusterEndpoint?> Create(bool defaultToStandalone)
    {
        var option = new Option<ClusterEndpoint?>("--cluster")
        {
            Description = $"The cluster: a silo's gateway host:port (default {ClusterEndpoint.Default}: the standalone silo's), or redis://host:port, the Redis its silos register in",
            HelpName = "host:port|redis://host:port",
            CustomParser = result =>
            {
                var text = result.Tokens.Count > 0 ? result.Tokens[^1].Value : "";
                var endpoint = ClusterEndpoint.TryParse(text, out var error);
                if (endpoint is null) result.AddError($"--cluster: {error}");
                return endpoint;
            },
        };
        if (defaultToStandalone) option.DefaultValueFactory = _ => ClusterEndpoint.Default;
        return option;
    }
}
