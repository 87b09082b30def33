using RlhfActors.Training.Tasks;

namespace RlhfActors.Tests.Data;

public sealed class TaskSplitTests
{
    readonly ISyntheticTask _addition = new AdditionTask(2);

    [Fact]
    public void Counts_are_exact_and_eval_prompts_are_distinct_and_absent_from_train()
    {
        // 2-digit addition has 10,000 prompts, but short operands are common: many eval prompts recur in train draws.
        var (train, eval) = TaskSplit.Build(_addition, seed: 5, trainCount: 3000, evalCount: 300);
        Assert.Equal(3000, train.Count);
        Assert.Equal(300, eval.Count);
        Assert.Equal(300, eval.Select(e => e.Prompt).Distinct().Count());
        var evalPrompts = eval.Select(e => e.Prompt).ToHashSet();
        Assert.DoesNotContain(train, e => evalPrompts.Contains(e.Prompt));
    }

    [Fact]
    public void Same_seed_gives_the_same_split()
    {
        var first = TaskSplit.Build(_addition, 11, 200, 50);
        var second = TaskSplit.Build(new AdditionTask(2), 11, 200, 50);
        Assert.Equal(first.Train, second.Train);
        Assert.Equal(first.Eval, second.Eval);
    }

    [Fact]
    public void Different_seeds_give_different_splits()
    {
        var first = TaskSplit.Build(_addition, 11, 200, 50);
        var second = TaskSplit.Build(_addition, 12, 200, 50);
        Assert.NotEqual(first.Train, second.Train);
        Assert.NotEqual(first.Eval, second.Eval);
    }

    [Fact]
    public void Eval_does_not_depend_on_the_train_count()
    {
        Assert.Equal(TaskSplit.Build(_addition, 3, 10, 40).Eval, TaskSplit.Build(_addition, 3, 500, 40).Eval);
    }

    [Theory]
    [InlineData(10, 27)] // reverse of length 1 has 26 prompts: 27 distinct eval prompts cannot exist
    [InlineData(10, 26)] // eval takes all 26: no prompt is left for train
    public void A_task_space_too_small_for_the_counts_is_an_error_not_an_endless_loop(int trainCount, int evalCount)
    {
        var error = Assert.Throws<InvalidOperationException>(() => TaskSplit.Build(new ReverseTask(1), 1, trainCount, evalCount));
        Assert.Contains("'reverse'", error.Message);
        Assert.Contains("too small", error.Message);
    }
}
