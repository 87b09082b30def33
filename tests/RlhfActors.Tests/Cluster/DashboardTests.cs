using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using RlhfActors.Client;
using RlhfActors.Silo.Hosting;
using RlhfActors.Tests.Cli;

namespace RlhfActors.Tests.Cluster;

/// <summary><c>rlhf silo --dashboard-port N</c>: the Orleans Dashboard served from the silo's own host, on loopback
/// unless an address is given; no web server without the flag.</summary>
public sealed class DashboardTests
{
    // A silo's start on a loaded two-core CI machine can take 30 s and more; these bound every wait below.
    static readonly TimeSpan SiloStart = TimeSpan.FromSeconds(90);
    static readonly TimeSpan DataDeadline = TimeSpan.FromSeconds(60);
    const int MaxDataAttempts = 60;

    [Fact]
    public async Task A_silo_with_a_dashboard_port_serves_the_page_and_its_data_on_loopback_only()
    {
        var (siloPort, gatewayPort, dashboardPort) = (EmbeddedSilo.FreeLoopbackPort(), EmbeddedSilo.FreeLoopbackPort(), EmbeddedSilo.FreeLoopbackPort());
        await using var silo = RlhfProcess.Start(null, "silo", "--silo-port", siloPort.ToString(CultureInfo.InvariantCulture),
            "--gateway-port", gatewayPort.ToString(CultureInfo.InvariantCulture),
            "--dashboard-port", dashboardPort.ToString(CultureInfo.InvariantCulture));
        await silo.WaitForOutputAsync("silo started", SiloStart);
        var url = $"http://127.0.0.1:{dashboardPort}/";
        Assert.Contains($"dashboard {url}", silo.Stdout);
        Assert.Contains($"Orleans Dashboard at {url}", silo.Stderr);
        // Kestrel listens on 127.0.0.1 and nothing else (read from the kernel's table: no traffic off loopback).
        Assert.Equal(["127.0.0.1"], ListenersOn(dashboardPort));

        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(15) };
        using (var page = await http.GetAsync(url))
        {
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
            Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
            Assert.Contains("<title>Orleans Dashboard</title>", await page.Content.ReadAsStringAsync());
        }

        // The data endpoint the page polls: this silo among the hosts. The dashboard's grain gathers the counters a
        // moment after start-up, so an empty host list is retried (bounded by attempts and a deadline).
        var clock = Stopwatch.StartNew();
        var hosts = new List<string>();
        for (var attempt = 1; ; attempt++)
        {
            using var data = await http.GetAsync($"{url}DashboardCounters");
            if (data.StatusCode == HttpStatusCode.OK)
            {
                Assert.Equal("application/json", data.Content.Headers.ContentType?.MediaType);
                using var json = JsonDocument.Parse(await data.Content.ReadAsStringAsync());
                hosts = [.. json.RootElement.GetProperty("hosts").EnumerateArray().Select(h => h.GetProperty("siloAddress").GetString()!)];
            }
            if (hosts.Count > 0) break;
            Assert.True(attempt < MaxDataAttempts && clock.Elapsed < DataDeadline,
                $"no hosts from /DashboardCounters after {attempt} attempts in {clock.Elapsed.TotalSeconds:F0} s (last status {data.StatusCode})\n{silo}");
            await Task.Delay(TimeSpan.FromSeconds(1));
        }
        // Orleans writes a silo address as ip:port@generation.
        Assert.Contains(hosts, h => h.StartsWith($"127.0.0.1:{siloPort}@", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Without_a_dashboard_port_the_silo_runs_no_web_server()
    {
        await using var silo = await EmbeddedSilo.StartAsync(TextWriter.Null, LogLevel.Warning);
        Assert.Null(silo.Options.DashboardPort);
        Assert.Null(silo.Services.GetService<IServer>());
    }

    [Theory]
    [InlineData("--dashboard-port", "0", "--dashboard-port must be a TCP port 1-65535 (got 0)")]
    [InlineData("--dashboard-port", "30000", "Rlhf:DashboardPort must differ from SiloPort and GatewayPort (got 30000)")]
    [InlineData("--dashboard-address", "localhost", "Rlhf:DashboardAddress 'localhost' is not an IP address")]
    public async Task Silo_refuses_a_bad_dashboard_port_or_address_with_exit_2(string option, string value, string expected)
    {
        var run = await CliRunner.RunAsync("silo", option, value);

        Assert.True(run.ExitCode == ExitCodes.Usage, run.ToString());
        Assert.Contains(expected, run.Stderr);
        Assert.Equal("", run.Stdout);
    }

    [Fact]
    public void Dashboard_settings_bind_from_the_environment_and_default_to_off_on_loopback()
    {
        var defaults = new RlhfSiloOptions();
        Assert.Null(defaults.DashboardEndpoint());
        Assert.Equal("127.0.0.1", defaults.DashboardAddress);

        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Rlhf:DashboardPort"] = "8080",
            ["Rlhf:DashboardAddress"] = "::1",
        }).Build();
        SiloConfiguration.ThrowIfUnknownKeys(config);
        var options = SiloConfiguration.Silo(config);
        options.Validate();
        Assert.Equal(new IPEndPoint(IPAddress.IPv6Loopback, 8080), options.DashboardEndpoint());
        Assert.Equal("http://[::1]:8080/", DashboardStartedLogger.Url(options.DashboardEndpoint()!));
    }

    /// <summary>The local addresses of the IPv4 and IPv6 sockets listening on <paramref name="port"/>, from
    /// /proc/net/tcp and tcp6 (hex, little-endian per 32-bit word; state 0A is LISTEN).</summary>
    static List<string> ListenersOn(int port)
    {
        var listeners = new List<string>();
        foreach (var table in new[] { "/proc/net/tcp", "/proc/net/tcp6" })
        {
            if (!File.Exists(table)) continue;
            foreach (var line in File.ReadLines(table).Skip(1))
            {
                var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                var local = fields[1].Split(':');
                if (fields[3] != "0A" || int.Parse(local[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture) != port) continue;
                var bytes = Convert.FromHexString(local[0]);
                for (var word = 0; word < bytes.Length; word += 4) Array.Reverse(bytes, word, 4);
                listeners.Add(new IPAddress(bytes).ToString());
            }
        }
        return listeners;
    }
}
