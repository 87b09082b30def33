namespace RlhfActors.Abstractions.Config;

/// <summary>
/// Data-parallel training (<c>parallel:</c>): a group of <see cref="Learners"/> learner grains, each holding a full
/// replica of the model and optimizer, placed one per device on accelerator silos. Each update's global batch is
/// sharded across them by rows, each computes its shard's gradients with the global batch's normalisers, the gradients
/// are summed across ranks by grain messages (reduce-scatter + all-gather in buckets of <see cref="BucketBytes"/>),
/// and every rank applies the same sum. The result is the update of one learner on the whole batch, up to
/// floating-point summation order.
/// </summary>
[GenerateSerializer, Immutable, Alias("rlhf.ParallelSection")]
public sealed record ParallelSection
{
    /// <summary>Upper bound on <see cref="Learners"/>: every rank holds a whole replica, and a group wider than the
    /// devices of a cluster only adds messages.</summary>
    public const int MaxLearners = 64;

    /// <summary>Learner ranks; 1 = one learner, no gradient exchange.</summary>
    [Id(0)] public int Learners { get; init; } = 1;

    /// <summary>Gradient bytes (fp32) per exchange bucket: each bucket is split in one segment per rank, so a message
    /// carries at most bucket_bytes / learners. 16 MiB keeps every message far below the silo's message limit while a
    /// small model still moves in one bucket.</summary>
    [Id(1)] public int BucketBytes { get; init; } = 16 << 20;

    /// <summary>Every this many steps the ranks compare a SHA-256 of their weights; a mismatch stops the run. 0 = never
    /// (the check hashes every weight on every rank).</summary>
    [Id(2)] public int DigestEvery { get; init; } = 100;

    public bool Enabled => Learners > 1;

    /// <summary>This section's rules, each naming its YAML field. <paramref name="config"/>: the batches a group of
    /// learners must share (each rank trains at least one row of every batch).</summary>
    public void Validate(ConfigRules rules, ExperimentConfig config)
    {
        rules.Check(Learners is >= 1 and <= MaxLearners, "parallel.learners", $"must be in [1, {MaxLearners}]", Learners);
        if (Enabled)
        {
            if (config.TrainsRewardModel && config.RewardModel.Steps > 0)
                rules.Check(config.RewardModel.BatchSize >= Learners, "parallel.learners", $"must be at most reward_model.batch_size ({config.RewardModel.BatchSize}): every learner trains at least one pair of each batch", Learners);
            if (config.IsPpo)
            {
                // The policy and the critic each train as a group of this many ranks; every rank trains at least one
                // row of every minibatch (the smallest of ppo.num_mini_batches near-equal parts of the batch).
                int rows = config.Ppo.PromptsPerStep * config.Ppo.NumGenerations, smallest = rows / Math.Max(1, config.Ppo.NumMiniBatches);
                rules.Check(smallest >= Learners, "parallel.learners",
                    $"must be at most the rows of the smallest ppo minibatch (ppo.prompts_per_step × ppo.num_generations ÷ ppo.num_mini_batches = {smallest}): every learner trains at least one completion of each minibatch", Learners);
            }
            if (!config.HasWarmUp || config.Sft.Steps > 0)
                rules.Check(config.Sft.BatchSize >= Learners, "parallel.learners", $"must be at most sft.batch_size ({config.Sft.BatchSize}): every learner trains at least one example of each batch", Learners);
            if (config.IsGrpo)
                rules.Check(config.Grpo.PromptsPerStep * config.Grpo.NumGenerations >= Learners, "parallel.learners",
                    $"must be at most grpo.prompts_per_step × grpo.num_generations ({config.Grpo.PromptsPerStep * config.Grpo.NumGenerations}): every learner trains at least one completion of each batch", Learners);
            // A step's pairs are what the verdicts leave (zero to prompts_per_step): no count every learner can share.
            rules.Check(!config.IsOnlineDpo, "parallel.learners", "must be 1 for online_dpo (a step trains on however many pairs its judge kept)", Learners);
            if (config.IsDpo || config.IsRlaif)
                rules.Check(config.Dpo.BatchSize >= Learners, "parallel.learners", $"must be at most dpo.batch_size ({config.Dpo.BatchSize}): every learner trains at least one pair of each batch", Learners);
            if ((config.IsDpo || config.IsRlaif) && config.Dpo.LossType == DpoLossVariant.Kto)
                rules.Check(false, "parallel.learners", "must be 1 with dpo.loss_type kto: its KL reference point is a mean over the whole batch", Learners);
        }
        rules.Check(BucketBytes is >= 1024 and <= 256 << 20, "parallel.bucket_bytes", "must be in [1024, 268435456] (1 KiB to 256 MiB)", BucketBytes);
        rules.Check(DigestEvery >= 0, "parallel.digest_every", "must be >= 0 (0 = never compare)", DigestEvery);
    }
}
