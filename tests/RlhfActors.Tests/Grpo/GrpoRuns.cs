using System.Diagnostics;
using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Experiments;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Abstractions.Policy;
using RlhfActors.Abstractions.Tensors;
using RlhfActors.Grains.Tensors;
using RlhfActors.Training.Weights;

namespace RlhfActors.Tests.Grpo;

/// <summary>What the GRPO pipeline tests share: run an experiment to its end through the grains, compare weights.</summary>
internal static class GrpoRuns
{
    /// <param name="until">Returns at this status instead of at the end (e.g. a pause).</param>
    public static async Task<ExperimentStatus> RunAsync(IClusterClient client, ExperimentConfig config, bool alreadyStarted = false,
        Func<ExperimentStatus, bool>? until = null)
    {
        var grain = client.GetGrain<IExperimentGrain>(config.Name);
        if (!alreadyStarted) await grain.Start(config);
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var status = await grain.GetStatus();
            if (status.IsFinished || until?.Invoke(status) == true) return status;
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(90), $"still {status.State} ({status.Phase}) at step {status.Step} after 90 s");
            await Task.Delay(100);
        }
    }

    /// <summary>A finished run's registry holds no weights any more, but its index holds every version's digest:
    /// <paramref name="expected"/>, exported as the learner exports them, must have exactly that digest.</summary>
    public static void AssertPublished(IReadOnlyList<TensorBytes> expected, PolicyVersionInfo published, string when) =>
        Assert.True(PayloadDigest.Sha256(expected.ToPayloads()) == published.Sha256,
            $"version {published.Version} (step {published.Step}) is not the expected weights {when}");

    public static void AssertSameWeights(IReadOnlyList<TensorBytes> expected, IReadOnlyList<TensorBytes> actual, string when)
    {
        Assert.Equal(expected.Select(t => t.Name).Order(), actual.Select(t => t.Name).Order());
        var byName = actual.ToDictionary(t => t.Name);
        foreach (var tensor in expected)
            Assert.True(tensor.Data.AsSpan().SequenceEqual(byName[tensor.Name].Data), $"{tensor.Name} differs {when}");
    }
}
