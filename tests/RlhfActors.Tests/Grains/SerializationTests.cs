using System.Collections.Immutable;
using System.Runtime.InteropServices;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using Orleans.Serialization.Cloning;
using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Policy;
using RlhfActors.Abstractions.Rollouts;
using RlhfActors.Abstractions.Tensors;
using RlhfActors.Grains.Tensors;
using RlhfActors.Training.Weights;
using TorchSharp;

namespace RlhfActors.Tests.Grains;

/// <summary>The messages round-trip through the cluster's own Orleans serializer, bit for bit.</summary>
[Collection(ClusterCollection.Name)]
public sealed class SerializationTests(ClusterFixture fixture)
{
    Serializer Serializer => fixture.Client.ServiceProvider.GetRequiredService<Serializer>();

    [Fact]
    public void A_torch_tensor_survives_TensorBytes_to_payload_to_wire_and_back()
    {
        using var scope = torch.NewDisposeScope();
        var original = torch.randn(3, 5, generator: new torch.Generator(11)).to(torch.ScalarType.BFloat16);
        var bytes = new TensorBytes("model.layers.0.mlp.up_proj.weight", "BF16", original.shape, original.bytes.ToArray());

        var wire = Serializer.SerializeToArray(bytes.ToPayload());
        var back = Serializer.Deserialize<TensorPayload>(wire)!.ToTensorBytes();

        Assert.Equal(bytes.Name, back.Name);
        Assert.Equal("BF16", back.DType);
        Assert.Equal(new long[] { 3, 5 }, back.Shape);
        Assert.Equal(bytes.Data, back.Data);
        var restored = torch.empty(back.Shape, torch.ScalarType.BFloat16);
        restored.bytes = back.Data;
        Assert.True(restored.equal(original).all().item<bool>());
    }

    [Fact]
    public void Mapping_reuses_the_byte_array_instead_of_copying_it()
    {
        var data = new byte[] { 1, 2, 3, 4 };
        var payload = new TensorBytes("w", "U8", [4], data).ToPayload();
        Assert.True(MemoryMarshal.TryGetArray(payload.Data, out var segment));
        Assert.Same(data, segment.Array);
        Assert.Same(data, payload.ToTensorBytes().Data);
    }

    [Fact]
    public void A_policy_version_round_trips_with_an_identical_digest()
    {
        var version = SamplePolicy("serialization", 3, seed: 5, floats: 1000);
        var back = Serializer.Deserialize<PolicyVersion>(Serializer.SerializeToArray(version))!;

        Assert.Equal(version.Version, back.Version);
        Assert.Equal(version.Step, back.Step);
        Assert.Equal(version.Weights.Length, back.Weights.Length);
        Assert.Equal(version.Describe(), back.Describe());
        Assert.Equal(version.Weights[1].Data.ToArray(), back.Weights[1].Data.ToArray());
    }

    [Fact]
    public void Immutable_messages_are_not_deep_copied_inside_a_silo()
    {
        var version = SamplePolicy("copy", 0, seed: 1, floats: 16);
        var copier = fixture.Client.ServiceProvider.GetRequiredService<DeepCopier<PolicyVersion>>();
        Assert.Same(version, copier.Copy(version));
    }

    /// <summary>Rollouts cross every grain boundary as this one record: across silos it must arrive column for
    /// column (a null reference, an empty completion, exact log-probs), and inside one it must not be copied at all.</summary>
    [Fact]
    public void Rollouts_round_trip_column_for_column_and_are_not_copied_inside_a_silo()
    {
        var rollouts = new RolloutBatchMessage
        {
            PromptIds = [[5, 6, 7], [5, 6, 7]],
            CompletionIds = [[8, 2], []],
            BehaviourLogProbs = [[-0.125f, float.Epsilon], []],
            Prompts = ["1+1=", "1+1="],
            CompletionTexts = ["2", ""],
            References = ["2", null],
            Truncated = [false, true],
            GroupSize = 2,
            PolicyVersion = 9,
            Seconds = 0.25,
        };
        var back = Serializer.Deserialize<RolloutBatchMessage>(Serializer.SerializeToArray(rollouts))!;

        Assert.Equal<int[]>(rollouts.PromptIds, back.PromptIds);
        Assert.Equal<int[]>(rollouts.CompletionIds, back.CompletionIds);
        Assert.Equal<float[]>(rollouts.BehaviourLogProbs, back.BehaviourLogProbs);
        Assert.Equal<string>(rollouts.Prompts, back.Prompts);
        Assert.Equal<string>(rollouts.CompletionTexts, back.CompletionTexts);
        Assert.Equal<string?>(rollouts.References, back.References);
        Assert.Equal<bool>(rollouts.Truncated, back.Truncated);
        Assert.Equal((2, 9L, 0.25), (back.GroupSize, back.PolicyVersion, back.Seconds));
        Assert.Same(rollouts, fixture.Client.ServiceProvider.GetRequiredService<DeepCopier<RolloutBatchMessage>>().Copy(rollouts));
    }

    [Fact]
    public void An_experiment_config_round_trips_field_for_field()
    {
        var config = TinyExperiment.Create("roundtrip") with { SourceFile = "/tmp/x.yaml" };
        var back = Serializer.Deserialize<ExperimentConfig>(Serializer.SerializeToArray(config))!;

        Assert.Equal(config.Model, back.Model);
        Assert.Equal(config.Sft, back.Sft);
        Assert.Equal(config.Eval, back.Eval);
        Assert.Equal(config.Data.TaskParameters, back.Data.TaskParameters);
        Assert.Equal(config with { Data = config.Data with { TaskParameters = back.Data.TaskParameters } }, back);
    }

    /// <summary>A policy of two tensors with seeded random contents.</summary>
    public static PolicyVersion SamplePolicy(string experiment, long version, int seed, int floats)
    {
        var random = new Random(seed);
        var weights = new float[floats];
        for (var i = 0; i < floats; i++) weights[i] = (float)random.NextDouble();
        var embed = MemoryMarshal.AsBytes(weights.AsSpan()).ToArray();
        var norm = new byte[64];
        random.NextBytes(norm);
        return new PolicyVersion
        {
            ExperimentId = experiment,
            Version = version,
            Step = (int)version * 10,
            Weights =
            [
                new TensorPayload { Name = "model.embed_tokens.weight", DType = "F32", Shape = [floats], Data = embed },
                new TensorPayload { Name = "model.norm.weight", DType = "U8", Shape = ImmutableArray.Create(64L), Data = norm },
            ],
            PublishedAt = DateTimeOffset.UtcNow,
        };
    }
}
