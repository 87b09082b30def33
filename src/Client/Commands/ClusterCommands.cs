using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using RlhfActors.Abstractions.Cluster;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Client.Connection;

namespace RlhfActors.Client.Commands;

/// <summary>
/// <c>rlhf cluster [--cluster …] [--json]</c>: the silos (address, status, advertised devices, role grains hosted) and
/// every experiment with its state. <c>rlhf list [--cluster …] [--json]</c>: the experiments only.
/// </summary>
public static class ClusterCommands
{
    public static Command Cluster(CliContext cli) =>
        Create(cli, "cluster", "Show the cluster's silos (status, devices, role grains) and every experiment", withSilos: true);

    public static Command List(CliContext cli) =>
        Create(cli, "list", "List every experiment started on the cluster, with its state and result", withSilos: false);

    static Command Create(CliContext cli, string name, string description, bool withSilos)
    {
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var cluster = ClusterOption.Create(defaultToStandalone: true);
        var command = new Command(name, description) { json, cluster };
        command.SetAction((parse, cancellationToken) => ClusterCalls.GuardAsync(cli, cancellationToken, async () =>
        {
            var endpoint = parse.GetValue(cluster)!;
            await using var connection = await ClusterConnection.ConnectAsync(endpoint, cancellationToken);
            var silos = withSilos ? await connection.Client.GetGrain<IClusterInfoGrain>(0).GetSilos() : [];
            var experiments = await ExperimentListing.ReadAsync(connection.Client);
            if (parse.GetValue(json))
            {
                cli.Stdout.WriteLine(Json(endpoint, withSilos ? silos : null, experiments));
                return ExitCodes.Ok;
            }
            if (withSilos)
            {
                cli.Stdout.WriteLine($"cluster at {endpoint}: {silos.Count(s => s.Status == "Active")} active silo(s)");
                foreach (var silo in silos) cli.Stdout.WriteLine(SiloLine(silo));
                cli.Stdout.WriteLine();
            }
            ExperimentListing.WriteText(cli.Stdout, experiments);
            return ExitCodes.Ok;
        }));
        return command;
    }

    static string SiloLine(SiloSummary s)
    {
        var devices = s.DeviceCount > 0 ? $"{s.Accelerator} x{s.DeviceCount}" : "cpu only";
        var roles = s.Roles.Count > 0 ? string.Join(", ", s.Roles.Select(r => $"{r.Key} {r.Value}")) : "no role grains";
        var gateway = s.GatewayPort > 0 ? $"gateway {s.GatewayPort.ToString(CultureInfo.InvariantCulture)}" : "no gateway";
        return $"  {s.Address}  {s.Status.ToLowerInvariant()}  {gateway}  {devices}  [{roles}]";
    }

    static string Json(ClusterEndpoint endpoint, System.Collections.Immutable.ImmutableArray<SiloSummary>? silos,
        IReadOnlyList<ExperimentListing.Entry> experiments)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            // As the user gave it, which never holds credentials (ClusterEndpoint refuses them).
            w.WriteString("cluster", endpoint.ToString());
            if (silos is { } list)
            {
                w.WriteStartArray("silos");
                foreach (var s in list)
                {
                    w.WriteStartObject();
                    w.WriteString("address", s.Address);
                    w.WriteString("name", s.Name);
                    w.WriteString("status", s.Status.ToLowerInvariant());
                    w.WriteNumber("gateway_port", s.GatewayPort);
                    w.WriteString("accelerator", s.Accelerator);
                    w.WriteNumber("device_count", s.DeviceCount);
                    w.WriteStartObject("roles");
                    foreach (var (role, count) in s.Roles) w.WriteNumber(role, count);
                    w.WriteEndObject();
                    w.WriteString("started_at", s.StartedAt.ToString("O", CultureInfo.InvariantCulture));
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            }
            ExperimentListing.WriteJson(w, experiments);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}
