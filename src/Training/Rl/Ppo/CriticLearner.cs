using System.Diagnostics;
using System.Text.Json;
using RlhfActors.Training.Checkpoints;
using RlhfActors.Training.Sft;
using RlhfActors.Training.Optim;
using RlhfActors.Training.Parallel;
using RlhfActors.Training.Rollouts;
using RlhfActors.Training.Scoring;
using TorchSharp;
using static TorchSharp.torch;

namespace RlhfActors.Training.Rl.Ppo;

/// <summary>One critic update. ValueLoss, ClipFraction and GradNorm are means over the <see cref="Updates"/>
/// minibatch steps; ExplainedVariance is that of the values the step started from (the V_old that GAE used), as TRL
/// and SB3 report it, so it measures the critic the rollout saw.</summary>
public sealed record CriticStepMetrics(int Step, double ValueLoss, double ClipFraction, double ExplainedVariance,
    double GradNorm, int Updates, double Seconds);

/// <summary>
/// PPO's critic: a <see cref="ScalarHeadModel"/> reading V(s_t) at every completion position, trained apart from the
/// policy (its own model, optimizer and learning rate; possibly its own actor). It gives the values GAE needs
/// (<see cref="Values"/>) and regresses them on the returns GAE produced (<see cref="Step"/>) with the clipped
/// <see cref="ValueLoss"/>, over the same epochs × minibatches plan as the policy (<see cref="MiniBatchPlan"/>).
/// Not thread-safe: one device worker thread calls it.
/// </summary>
public sealed class CriticLearner : IDisposable
{
    readonly ScalarHeadModel critic;
    readonly AdamW optimizer;
    readonly PpoOptions options;
    readonly FiniteUpdates finite;
    readonly int padId;

    public CriticLearner(ScalarHeadModel critic, PpoOptions options, int padId, double weightDecay = 0.0)
    {
        options.Validate();
        this.critic = critic;
        this.options = options;
        this.padId = padId;
        optimizer = new AdamW(critic.TrainableParameters(), beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: weightDecay);
        finite = new FiniteUpdates(options.MaxNonfiniteSteps, "ppo critic");
    }

    public ScalarHeadModel Critic => critic;
    public int StepsDone { get; private set; }
    /// <summary>AdamW steps taken so far (epochs × minibatches per critic step).</summary>
    public long OptimizerSteps => optimizer.StepCount;

    /// <summary>V(s_t) of every completion token, one array per row as long as its completion (no grad).</summary>
    public float[][] Values(RolloutBatch batch)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        critic.Train(false);
        var (values, _) = critic.CompletionValues(batch.PromptIds, batch.CompletionIds, padId);
        return PerTokenRows.Rows(values, batch.CompletionIds.Select(c => c.Length).ToArray());
    }

    /// <param name="returns">Per-row GAE returns (<see cref="PpoStepResult.Returns"/>).</param>
    /// <param name="oldValues">The values GAE used (<see cref="Values"/> before this step): the clip's anchor.</param>
    /// <param name="group">A data-parallel group this critic is one rank of (null: alone): every rank is given the
    /// whole batch, trains on its rows of each minibatch with the minibatch's token count as the normaliser, and the
    /// group sums the gradients before the clip.</param>
    public CriticStepMetrics Step(RolloutBatch batch, IReadOnlyList<float[]> returns, IReadOnlyList<float[]> oldValues, double learningRate,
        IGradientReducer? group = null)
    {
        PerTokenRows.CheckLengths(returns, batch.CompletionIds, "return");
        PerTokenRows.CheckLengths(oldValues, batch.CompletionIds, "value");
        var clock = Stopwatch.StartNew();
        using var scope = NewDisposeScope();
        critic.Train();
        var device = critic.Body.parameters().First().device;
        long width = Math.Max(1, batch.CompletionIds.Max(c => c.Length));
        var targets = PerTokenRows.RightPadded(returns, width, device);
        var anchors = PerTokenRows.RightPadded(oldValues, width, device);
        var mask = PerTokenRows.RightPadded(batch.CompletionIds.Select(c => Enumerable.Repeat(1f, c.Length).ToArray()).ToArray(), width, device);
        double explained = ExplainedVariance.Compute(anchors, targets, mask);

        var plan = MiniBatchPlan.Rows(batch.Count, options.Epochs, options.MiniBatches, StepsDone);
        var shard = group?.Shard ?? DataShard.Whole;
        var trainable = critic.TrainableParameters().Select(p => p.Param).ToArray();
        double lossSum = 0, clipSum = 0, normSum = 0;
        foreach (var minibatch in plan)
        {
            using var miniScope = NewDisposeScope();
            var rows = shard.Slice(minibatch);
            double? globalTokens = shard.IsWhole ? null : minibatch.Sum(r => (double)batch.CompletionIds[r].Length);
            var (values, miniMask) = critic.CompletionValues(rows.Select(r => batch.PromptIds[r]).ToArray(),
                rows.Select(r => batch.CompletionIds[r]).ToArray(), padId);
            var index = tensor(rows.Select(r => (long)r).ToArray(), device: device);
            Tensor Pick(Tensor t) => t.index_select(0, index).narrow(1, 0, values.shape[1]);
            var output = ValueLoss.Compute(values, Pick(anchors), Pick(targets), miniMask, options.ClipRangeValue, globalTokens);
            optimizer.ZeroGrad();
            output.Loss.backward();
            double share = globalTokens is { } tokens ? miniMask.sum().ToDouble() / Math.Max(1.0, tokens) : 1;
            var summed = GradientBuffer.SumOverGroup(group, trainable, output.Loss.ToDouble(), output.ClipFraction * share);
            var norm = FiniteUpdates.ClipGradients(trainable, options.MaxGradNorm);
            normSum += norm;
            if (finite.Admit(summed[0], norm, StepsDone + 1)) optimizer.Step(learningRate);
            lossSum += summed[0];
            clipSum += summed[1];
        }
        StepsDone++;
        return new CriticStepMetrics(StepsDone, lossSum / plan.Count, clipSum / plan.Count, explained, normSum / plan.Count,
            plan.Count, clock.Elapsed.TotalSeconds);
    }

    /// <summary>The critic (its body and value head, as a Hugging Face folder), this optimizer's moments and its step
    /// count, verified like a policy checkpoint, at the run's global <paramref name="step"/>.</summary>
    public CheckpointInfo SaveCheckpoint(string directory, int step, int seed) =>
        CheckpointWriter.Write(directory, critic.Config, critic.ExportWeights(), optimizer.ExportState(),
            JsonSerializer.Serialize(new CriticTrainerState("critic", StepsDone, seed, optimizer.StepCount)), step,
            new Dictionary<string, string>());

    /// <summary>Restores this optimizer's moments and step count (the weights were loaded into the model it was built
    /// with, <see cref="ScalarHeadModel.FromWeights"/> of the same checkpoint).</summary>
    public void LoadState(LoadedCheckpoint checkpoint, string directory, int seed)
    {
        var state = StageState.Read<CriticTrainerState>(checkpoint, directory, "critic", seed, s => s.Stage, s => s.Seed);
        optimizer.LoadState(checkpoint.OptimizerState, state.OptimizerSteps, directory);
        StepsDone = state.Steps;
    }

    sealed record CriticTrainerState(string Stage, int Steps, int Seed, long OptimizerSteps);

    public void Dispose() => optimizer.Dispose();
}
