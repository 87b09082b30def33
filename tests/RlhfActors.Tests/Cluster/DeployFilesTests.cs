using Microsoft.Extensions.Configuration;
using Orleans.Hosting.Kubernetes;
using RlhfActors.Client;
using RlhfActors.Grains.Device;
using RlhfActors.Silo.Hosting;
using YamlDotNet.RepresentationModel;

namespace RlhfActors.Tests.Cluster;

/// <summary>
/// The docker and Kubernetes forms cannot be built or run here (no container engine, no registry, no cluster), so
/// they are held to what can be checked: every YAML under deploy/ parses; every rlhf command line in them parses with
/// the real CLI parser; every experiment they submit exists; every environment variable they set is one the program
/// reads (or the downward-API names Orleans' Kubernetes hosting reads), with values that bind and validate.
/// </summary>
public sealed class DeployFilesTests
{
    static readonly HashSet<string> OtherVariables = new(StringComparer.Ordinal)
    {
        KubernetesHostingOptions.PodNameEnvironmentVariable,
        KubernetesHostingOptions.PodNamespaceEnvironmentVariable,
        KubernetesHostingOptions.PodIPEnvironmentVariable,
        // libtorch's OpenMP and the .NET runtime, chosen per silo (see deploy/local/cluster.sh).
        "OMP_WAIT_POLICY", "OMP_NUM_THREADS", "DOTNET_gcServer",
        "NVIDIA_VISIBLE_DEVICES", "NVIDIA_DRIVER_CAPABILITIES",
    };

    static string Repository => ChildProcess.Repository;

    sealed record Container(string File, string Name, IReadOnlyList<string> Args, IReadOnlyDictionary<string, string?> Env);

    [Fact]
    public void Every_container_of_deploy_runs_a_real_rlhf_command_with_real_settings()
    {
        var containers = new List<Container>();
        var files = Directory.EnumerateFiles(Path.Combine(Repository, "deploy"), "*.*", SearchOption.AllDirectories)
            .Where(f => f.EndsWith(".yaml", StringComparison.Ordinal) || f.EndsWith(".yml", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(files);
        foreach (var file in files)
        {
            var stream = new YamlStream();
            using (var reader = new StreamReader(file)) stream.Load(reader); // throws on invalid YAML, naming the line
            foreach (var document in stream.Documents)
            {
                if (document.RootNode is not YamlMappingNode root) continue;
                if (root.Children.TryGetValue("services", out var services)) containers.AddRange(ComposeServices(file, (YamlMappingNode)services));
                else if (root.Children.ContainsKey("kind")) containers.AddRange(PodContainers(file, root));
            }
        }
        // Not vacuous: compose has two silos and a client, Kubernetes two silo Deployments and a Job.
        Assert.True(containers.Count(c => c.File.EndsWith("compose.yaml", StringComparison.Ordinal)) >= 3, string.Join(", ", containers.Select(c => c.Name)));
        Assert.True(containers.Count(c => c.File.Contains("/k8s/", StringComparison.Ordinal)) >= 3, string.Join(", ", containers.Select(c => c.Name)));

        var rlhf = RlhfActors.Client.Cli.CreateRoot(new CliContext(TextWriter.Null, TextWriter.Null, false));
        foreach (var c in containers)
        {
            var where = $"{Path.GetRelativePath(Repository, c.File)}: {c.Name}";
            var parse = rlhf.Parse(c.Args.ToArray());
            Assert.True(parse.Errors.Count == 0, $"{where}: rlhf {string.Join(' ', c.Args)}: {string.Join("; ", parse.Errors.Select(e => e.Message))}");
            Assert.Contains(c.Args[0], new[] { "silo", "run", "status", "cluster", "list", "pause", "resume", "stop" });
            foreach (var arg in c.Args.Where(a => a.StartsWith("/app/experiments/", StringComparison.Ordinal)))
                Assert.True(File.Exists(Path.Combine(Repository, "experiments", Path.GetFileName(arg))), $"{where}: {arg} is not in experiments/");
            Assert.DoesNotContain(c.Args, a => a.Contains('@')); // no credentials on a command line

            foreach (var name in c.Env.Keys)
                Assert.True(SiloConfiguration.IsKnownKey(name) || OtherVariables.Contains(name), $"{where}: environment variable {name} is read by nothing");

            // The literal values bind and validate as the silo would read them.
            var config = new ConfigurationBuilder().AddInMemoryCollection(c.Env
                .Where(e => e.Key.StartsWith("Rlhf__", StringComparison.Ordinal) && e.Value is not null)
                .Select(e => new KeyValuePair<string, string?>(e.Key.Replace("__", ":", StringComparison.Ordinal), e.Value))).Build();
            SiloConfiguration.ThrowIfUnknownKeys(config);
            SiloConfiguration.Silo(config).Validate();
            SiloConfiguration.Redis(config).Validate();
            (config.GetSection(SiloHardwareOptions.Section).Get<SiloHardwareOptions>() ?? new()).Validate();
        }
        // Cluster and service ids agree across every container of a form, or its silos and clients would not meet.
        foreach (var form in containers.GroupBy(c => Path.GetDirectoryName(c.File)))
            Assert.Single(form.Select(c => (c.Env.GetValueOrDefault("Rlhf__ClusterId"), c.Env.GetValueOrDefault("Rlhf__ServiceId"))).Distinct());
    }

    [Fact]
    public void The_image_runs_rlhf_and_its_default_command_is_a_silo()
    {
        var dockerfile = File.ReadAllLines(Path.Combine(Repository, "deploy", "docker", "Dockerfile"));
        Assert.Contains("ENTRYPOINT [\"dotnet\", \"/app/rlhf.dll\"]", dockerfile);
        Assert.Contains("CMD [\"silo\"]", dockerfile);
        Assert.Contains(dockerfile, l => l.Contains("dotnet publish src/Client/Client.csproj", StringComparison.Ordinal) && l.Contains("-p:TorchBackend=", StringComparison.Ordinal));
    }

    /// <summary>Compose services running the rlhf image: <c>command</c> is rlhf's arguments.</summary>
    static IEnumerable<Container> ComposeServices(string file, YamlMappingNode services)
    {
        foreach (var (name, node) in services.Children)
        {
            var service = (YamlMappingNode)node;
            if (!Scalar(service, "image").StartsWith("rlhf-actors", StringComparison.Ordinal)) continue;
            var args = service.Children.TryGetValue("command", out var command) ? Strings(command) : ["silo"];
            var env = new Dictionary<string, string?>(StringComparer.Ordinal);
            if (service.Children.TryGetValue("environment", out var environment))
            {
                if (environment is YamlMappingNode map)
                    foreach (var (key, value) in map.Children) env[((YamlScalarNode)key).Value!] = Interpolated(((YamlScalarNode)value).Value);
                else
                    foreach (var item in Strings(environment)) env[item.Split('=')[0]] = item.Contains('=') ? Interpolated(item[(item.IndexOf('=') + 1)..]) : null;
            }
            yield return new Container(file, ((YamlScalarNode)name).Value!, args, env);
        }
    }

    /// <summary>Containers of any Kubernetes object (Deployment, Job, …) running the rlhf image: no <c>command</c>
    /// (the image's entrypoint), <c>args</c> are rlhf's arguments.</summary>
    static IEnumerable<Container> PodContainers(string file, YamlMappingNode node)
    {
        foreach (var (key, value) in node.Children)
        {
            if (((YamlScalarNode)key).Value == "containers" && value is YamlSequenceNode list)
            {
                foreach (var item in list.Children.Cast<YamlMappingNode>())
                {
                    if (!Scalar(item, "image").StartsWith("rlhf-actors", StringComparison.Ordinal)) continue;
                    Assert.False(item.Children.ContainsKey("command"), $"{file}: container {Scalar(item, "name")} overrides the entrypoint");
                    var env = new Dictionary<string, string?>(StringComparer.Ordinal);
                    if (item.Children.TryGetValue("env", out var envList))
                        foreach (var e in ((YamlSequenceNode)envList).Children.Cast<YamlMappingNode>())
                            env[Scalar(e, "name")] = e.Children.ContainsKey("value") ? Scalar(e, "value") : null; // valueFrom: no literal
                    var args = item.Children.TryGetValue("args", out var a) ? Strings(a) : ["silo"];
                    yield return new Container(file, Scalar(item, "name"), args, env);
                }
            }
            else if (value is YamlMappingNode child)
            {
                foreach (var c in PodContainers(file, child)) yield return c;
            }
        }
    }

    static string Scalar(YamlMappingNode node, string key) =>
        node.Children.TryGetValue(key, out var value) ? ((YamlScalarNode)value).Value ?? "" : "";

    static List<string> Strings(YamlNode node) => node switch
    {
        YamlSequenceNode list => [.. list.Children.Select(c => ((YamlScalarNode)c).Value ?? "")],
        YamlScalarNode scalar => [.. (scalar.Value ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries)],
        _ => throw new InvalidOperationException($"unexpected YAML node {node.NodeType}"),
    };

    /// <summary>A compose value taken from the user's environment (<c>${VAR…}</c>) has no literal here.</summary>
    static string? Interpolated(string? value) => value is not null && value.Contains("${", StringComparison.Ordinal) ? null : value;
}
