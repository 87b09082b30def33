namespace RlhfActors.Training.Rl.Ppo;

/// <summary>
/// Which rows each PPO minibatch holds: every epoch is a fresh permutation of the batch's rows (a stable seed from
/// the step and epoch), cut into near-equal contiguous chunks. The policy and the critic, which may live in
/// different actors, derive the same plan from the same step number without talking to each other.
/// </summary>
public static class MiniBatchPlan
{
    /// <summary>The row indices of every minibatch of step <paramref name="step"/>, epoch after epoch:
    /// epochs × miniBatches arrays, each non-empty, each epoch covering all rows once.</summary>
    public static IReadOnlyList<int[]> Rows(int rows, int epochs, int miniBatches, int step)
    {
        if (miniBatches < 1 || epochs < 1) throw new ArgumentException("epochs and minibatches must be >= 1");
        if (rows < miniBatches) throw new ArgumentException($"a batch of {rows} rows cannot be split into {miniBatches} minibatches");
        var plan = new List<int[]>();
        for (int epoch = 0; epoch < epochs; epoch++)
        {
            var order = Enumerable.Range(0, rows).ToArray();
            new Random(Tasks.StableSeed.Derive(step, epoch)).Shuffle(order);
            plan.AddRange(GrpoPlan.Split(order, miniBatches));
        }
        return plan;
    }
}
