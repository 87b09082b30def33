using Microsoft.Extensions.Configuration;
using RlhfActors.Client.Connection;
using RlhfActors.Silo.Hosting;

namespace RlhfActors.Tests.Cluster;

/// <summary>The settings a silo and a client read from the environment, and the --cluster forms.</summary>
public sealed class SiloConfigurationTests
{
    static IConfiguration Config(params (string Key, string Value)[] entries) =>
        new ConfigurationBuilder().AddInMemoryCollection(entries.Select(e => new KeyValuePair<string, string?>(e.Key, e.Value))).Build();

    [Fact]
    public void Settings_bind_from_their_sections()
    {
        var config = Config(("Rlhf:ClusterId", "prod"), ("Rlhf:SiloPort", "12000"), ("Rlhf:AdvertisedAddress", "10.0.0.5"),
            ("Rlhf:Redis:Endpoint", "redis:6379"), ("Rlhf:Redis:Password", "p"), ("Rlhf:Redis:Tls", "true"));
        SiloConfiguration.ThrowIfUnknownKeys(config);
        var silo = SiloConfiguration.Silo(config);
        var redis = SiloConfiguration.Redis(config);
        Assert.Equal(("prod", 12000, "10.0.0.5"), (silo.ClusterId, silo.SiloPort, silo.AdvertisedAddress));
        Assert.True(redis.IsSet && redis.Tls);
        Assert.Equal("rediss://redis:6379", redis.Describe());
        var options = redis.ToConfigurationOptions();
        Assert.Equal("p", options.Password);
        Assert.True(options.Ssl);
    }

    [Fact]
    public void Unknown_keys_are_refused_by_name_and_known_ones_accepted_in_any_case()
    {
        var e = Assert.Throws<ArgumentException>(() => SiloConfiguration.ThrowIfUnknownKeys(Config(("Rlhf:Redis:Endpont", "x:1"))));
        Assert.Contains("Rlhf__Redis__Endpont", e.Message);
        Assert.True(SiloConfiguration.IsKnownKey("RLHF__REDIS__PASSWORD"));
        Assert.True(SiloConfiguration.IsKnownKey("Rlhf:Hardware:ComputeOnCpu"));
        Assert.False(SiloConfiguration.IsKnownKey("Rlhf__Hardware__Gpus"));
    }

    [Fact]
    public void A_value_of_the_wrong_type_names_its_key_but_not_its_value()
    {
        var e = Assert.Throws<ArgumentException>(() => SiloConfiguration.Silo(Config(("Rlhf:GatewayPort", "thirty"))));
        Assert.Contains("Rlhf:GatewayPort", e.Message);
        Assert.Contains("whole number", e.Message);
        Assert.DoesNotContain("thirty", e.Message);
    }

    [Theory]
    [InlineData("redis:6379,password=abc")]
    [InlineData("user:abc@redis:6379")]
    [InlineData("redis")]
    [InlineData("redis:0")]
    public void A_redis_endpoint_is_host_and_port_only(string endpoint)
    {
        var e = Assert.Throws<ArgumentException>(() => new RedisOptions { Endpoint = endpoint }.Validate());
        Assert.Contains("Rlhf:Redis:Endpoint", e.Message);
        Assert.DoesNotContain("abc", e.Message);
    }

    [Fact]
    public void Cluster_endpoints_are_gateways_or_redis()
    {
        var gateway = ClusterEndpoint.TryParse("localhost:30000", out _)!;
        Assert.False(gateway.IsRedis);
        Assert.Equal("localhost:30000", gateway.ToString());

        var redis = ClusterEndpoint.TryParse("redis://10.1.2.3:6380", out _)!;
        Assert.True(redis.IsRedis && !redis.Tls);
        Assert.Equal(("10.1.2.3", 6380), (redis.Host, redis.Port));
        Assert.Equal("redis://10.1.2.3:6380", redis.ToString());
        Assert.True(ClusterEndpoint.TryParse("rediss://cache:6380/", out _)!.Tls);
        Assert.Equal("redis://[::1]:6379", ClusterEndpoint.TryParse("redis://[::1]:6379", out _)!.ToString());

        var configured = new RedisOptions { Password = "from-env", User = "u" };
        var options = redis.ToRedisOptions(configured);
        Assert.Equal(("10.1.2.3:6380", "from-env", "u"), (options.Endpoint, options.Password, options.User));

        Assert.Null(ClusterEndpoint.TryParse("http://host:1", out var error));
        Assert.Contains("not a known scheme", error);
        Assert.Null(ClusterEndpoint.TryParse("redis://:pw-xyz@host:1", out error));
        Assert.DoesNotContain("pw-xyz", error);
    }

    [Fact]
    public void Silo_options_name_a_bad_advertised_address()
    {
        var e = Assert.Throws<ArgumentException>(() => new RlhfSiloOptions { AdvertisedAddress = "not an address" }.Validate());
        Assert.Contains("Rlhf:AdvertisedAddress", e.Message);
        Assert.Equal(System.Net.IPAddress.Loopback, new RlhfSiloOptions { AdvertisedAddress = "127.0.0.1" }.ResolveAdvertisedAddress());
    }
}
