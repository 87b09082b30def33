using RlhfActors.Training.Data;
using RlhfActors.Training.Tasks;

namespace RlhfActors.Tests.Data;

public sealed class ExperimentDataTests : IDisposable
{
    readonly TempDirectory _folder = new();

    public void Dispose() => _folder.Dispose();

    static DataSpec AdditionSpec(int seed = 3) => new()
    {
        Task = "addition",
        TaskParameters = new Dictionary<string, int> { ["digits"] = 2 },
        TrainExamples = 120,
        EvalExamples = 30,
        Seed = seed,
    };

    [Fact]
    public void A_task_spec_builds_the_seeded_split_and_scores_with_the_task()
    {
        var data = ExperimentData.Load(AdditionSpec());
        var expected = TaskSplit.Build(new AdditionTask(2), 3, 120, 30);
        Assert.Equal(expected.Train, data.Train);
        Assert.Equal(expected.Eval, data.Eval);
        var example = data.Eval[0];
        Assert.True(data.Verifier.IsCorrect(example, example.Completion + "\n"));
        Assert.False(data.Verifier.IsCorrect(example, example.Completion + "1"));
    }

    [Fact]
    public void A_file_spec_reads_train_and_eval_and_scores_by_exact_match()
    {
        var train = _folder.Write("train.jsonl", "{\"prompt\": \"a\", \"completion\": \"b\"}\n{\"prompt\": \"c\", \"completion\": \"d\"}\n");
        var eval = _folder.Write("eval.jsonl", "{\"prompt\": \"e\", \"completion\": \"Paris\"}\n");
        var data = ExperimentData.Load(new DataSpec { TrainFile = train, EvalFile = eval });
        Assert.Equal(new[] { new PromptCompletion("a", "b"), new PromptCompletion("c", "d") }, data.Train);
        Assert.Equal(new[] { new PromptCompletion("e", "Paris") }, data.Eval);
        Assert.True(data.Verifier.IsCorrect(data.Eval[0], "  Paris\n"));
        Assert.False(data.Verifier.IsCorrect(data.Eval[0], "paris"));
        Assert.False(data.Verifier.IsCorrect(data.Eval[0], "Paris, France"));
    }

    [Fact]
    public void A_malformed_file_propagates_its_file_and_line()
    {
        var train = _folder.Write("train.jsonl", "{\"prompt\": \"a\", \"completion\": \"b\"}\n");
        var eval = _folder.Write("eval.jsonl", "{\"prompt\": \"a\", \"completion\": \"b\"}\n{\"prompt\": 1}\n");
        var error = Assert.Throws<InvalidDataException>(() => ExperimentData.Load(new DataSpec { TrainFile = train, EvalFile = eval }));
        Assert.StartsWith($"{eval}:2: ", error.Message);
    }

    [Fact]
    public void Neither_or_both_sources_is_an_error_naming_the_fields()
    {
        foreach (var spec in new[] { new DataSpec(), new DataSpec { Task = "addition", TrainFile = "t.jsonl", EvalFile = "e.jsonl" } })
        {
            var error = Assert.Throws<ArgumentException>(() => ExperimentData.Load(spec));
            Assert.Contains("Task", error.Message);
            Assert.Contains("TrainFile", error.Message);
        }
    }

    [Fact]
    public void A_train_file_without_an_eval_file_is_an_error_naming_EvalFile()
    {
        var error = Assert.Throws<ArgumentException>(() => ExperimentData.Load(new DataSpec { TrainFile = "t.jsonl" }));
        Assert.Contains("EvalFile", error.Message);
    }

    [Fact]
    public void An_unknown_task_is_an_error_naming_it()
    {
        var error = Assert.Throws<ArgumentException>(() => ExperimentData.Load(new DataSpec { Task = "chess" }));
        Assert.Contains("'chess'", error.Message);
    }

    [Fact]
    public void Dataset_hash_is_stable_and_sensitive_to_every_example()
    {
        var data = ExperimentData.Load(AdditionSpec());
        var hash = ExperimentData.DatasetSha256(data);
        Assert.Matches("^[0-9a-f]{64}$", hash);
        Assert.Equal(hash, ExperimentData.DatasetSha256(ExperimentData.Load(AdditionSpec())));
        Assert.NotEqual(hash, ExperimentData.DatasetSha256(ExperimentData.Load(AdditionSpec(seed: 4))));

        // Moving the last train example into eval changes the hash, as does moving a character across fields.
        var moved = data with { Train = data.Train.SkipLast(1).ToList(), Eval = data.Eval.Prepend(data.Train[^1]).ToList() };
        Assert.NotEqual(hash, ExperimentData.DatasetSha256(moved));
        Assert.NotEqual(Hash([new("ab", "c")], []), Hash([new("a", "bc")], []));
    }

    [Fact]
    public void Dataset_hash_matches_its_documented_format()
    {
        // SHA-256 over length-prefixed (int32 LE) UTF-8 strings: "train", count, prompt, completion…, "eval", count, …
        // computed independently with Python's hashlib; changing the format breaks provenance of old checkpoints.
        Assert.Equal("ab14984f8359a8769597e1d741b5dfd72213ddcfb9cd5330359a18e1a9c25689",
            Hash([new("1+1=", "2")], [new("a|", "a")]));
    }

    static string Hash(PromptCompletion[] train, PromptCompletion[] eval) =>
        ExperimentData.DatasetSha256(new LoadedData(train, eval, ExactMatchVerifier.Instance));
}
