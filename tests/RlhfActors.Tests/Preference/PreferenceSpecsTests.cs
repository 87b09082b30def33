using RlhfActors.Abstractions.Config;
using RlhfActors.Grains.Specs;

namespace RlhfActors.Tests.Preference;

/// <summary>The config's <c>pairs:</c> sections as the grains read them.</summary>
public sealed class PreferenceSpecsTests : IDisposable
{
    readonly string _folder = Directory.CreateTempSubdirectory("rlhf-pairs-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    string Write(string name, params string[] lines)
    {
        var path = Path.Combine(_folder, name);
        File.WriteAllLines(path, lines);
        return path;
    }

    [Fact]
    public void The_reward_model_gets_each_jsonl_lines_margin_and_dpo_the_same_pairs_without()
    {
        var section = new PreferenceDataSection
        {
            TrainFile = Write("train.jsonl",
                """{"prompt": "2+3=", "chosen": "5", "rejected": "6", "margin": 1.5}""",
                """{"prompt": "4+4=", "chosen": "8", "rejected": "9"}"""),
            EvalFile = Write("eval.jsonl", """{"prompt": "1+1=", "chosen": "2", "rejected": "3", "margin": 4}"""),
        };
        var config = TinyPreference.Dpo("specs");

        var (train, eval) = PreferenceSpecs.MarginedPairs(config, section, "reward_model.pairs");
        Assert.Equal([1.5, 0.0], train.Select(m => m.Margin));
        Assert.Equal(("2+3=", "5", "6"), (train[0].Pair.Prompt, train[0].Pair.Chosen, train[0].Pair.Rejected));
        Assert.Equal("1+1=", Assert.Single(eval).Prompt);

        var (dpoTrain, _) = PreferenceSpecs.Pairs(config, section, "dpo.pairs");
        Assert.Equal(train.Select(m => m.Pair), dpoTrain);
    }

    [Fact]
    public void Built_in_pairs_demand_no_margin()
    {
        var section = new PreferenceDataSection { TrainExamples = 32, EvalExamples = 8 };
        var (train, eval) = PreferenceSpecs.MarginedPairs(TinyPreference.Dpo("specs"), section, "reward_model.pairs");
        Assert.Equal(32, train.Count);
        Assert.All(train, m => Assert.Equal(0, m.Margin));
        Assert.Equal(8, eval.Count);
    }
}
