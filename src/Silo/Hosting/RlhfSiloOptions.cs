namespace RlhfActors.Silo.Hosting;

/// <summary>Where a silo listens and which cluster it joins (configuration section "Rlhf", e.g.
/// <c>--Rlhf:SiloPort=11112</c> on the command line). Messaging limits are not here: they are fixed for the whole
/// system in <c>RlhfLimits</c>, because silos and clients must agree on them.</summary>
public sealed class RlhfSiloOptions
{
    public const string Section = "Rlhf";

    public string ClusterId { get; set; } = "rlhf-dev";
    public string ServiceId { get; set; } = "rlhf";
    public int SiloPort { get; set; } = 11111;
    public int GatewayPort { get; set; } = 30000;

    /// <summary>Throws naming the setting that is wrong.</summary>
    public void Validate()
    {
        static void Port(int value, string name)
        {
            if (value is < 1 or > 65535) throw new ArgumentException($"{Section}:{name} must be a TCP port 1-65535 (got {value})");
        }
        if (string.IsNullOrWhiteSpace(ClusterId)) throw new ArgumentException($"{Section}:{nameof(ClusterId)} is empty");
        if (string.IsNullOrWhiteSpace(ServiceId)) throw new ArgumentException($"{Section}:{nameof(ServiceId)} is empty");
        Port(SiloPort, nameof(SiloPort));
        Port(GatewayPort, nameof(GatewayPort));
        if (SiloPort == GatewayPort) throw new ArgumentException($"{Section}:{nameof(SiloPort)} and {nameof(GatewayPort)} must differ (both {SiloPort})");
    }
}
