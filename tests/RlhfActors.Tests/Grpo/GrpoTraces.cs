using RlhfActors.Abstractions.Config;
using RlhfActors.Training.Rollouts.Traces;

namespace RlhfActors.Tests.Grpo;

/// <summary>What a traced TinyGrpo run's rollout traces must hold (2 samplers, β &gt; 0, exact_match + 0.5·format).</summary>
internal static class GrpoTraces
{
    /// <summary><paramref name="run"/>'s traces hold each of <paramref name="steps"/> once, in order, with every field
    /// filled, and the same rows, rewards and log-probs as <paramref name="baseline"/>'s (a sync run is deterministic).</summary>
    public static void AssertSameTraces(ExperimentConfig baseline, ExperimentConfig run, int[] steps)
    {
        var expected = RolloutTraceReader.Read(TraceFiles.FolderIn(baseline.OutputDir)).ToArray();
        var actual = RolloutTraceReader.Read(TraceFiles.FolderIn(run.OutputDir)).ToArray();
        Assert.Equal(steps, expected.Select(r => r.Step));
        Assert.Equal(steps, actual.Select(r => r.Step));
        foreach (var (b, a) in expected.Zip(actual))
        {
            Assert.Equal("grpo", a.Stage);
            Assert.Equal(16, a.Rows.Length); // 4 prompts × 4 completions
            Assert.Equal([0, 1], a.Rows.Select(r => r.Sampler).Distinct().Order());
            foreach (var (x, y) in b.Rows.Zip(a.Rows))
            {
                Assert.Equal(x.CompletionIds, y.CompletionIds);
                Assert.Equal(x.Reward, y.Reward);
                Assert.Equal(x.BehaviourLogProbs, y.BehaviourLogProbs);
                Assert.Equal(x.ReferenceLogProbs, y.ReferenceLogProbs);
                Assert.Equal(y.CompletionIds.Length, y.BehaviourLogProbs.Length);
                Assert.Equal(y.CompletionIds.Length, y.ReferenceLogProbs!.Length);
                var components = y.RewardComponents!;
                Assert.Equal(["exact_match", "format"], components.Keys.Order());
                Assert.Equal(y.Reward!.Value, components["exact_match"] + 0.5 * components["format"], 1e-12);
            }
        }
    }
}
