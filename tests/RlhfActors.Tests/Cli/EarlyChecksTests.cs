using RlhfActors.Abstractions.Config;
using RlhfActors.Client.Config;
using RlhfActors.Grains.Specs;

namespace RlhfActors.Tests.Cli;

/// <summary>
/// Inputs that used to be found minutes into a run (after a whole SFT warm-up, with exit 1 and a stack trace) are found
/// by <c>rlhf run</c> before anything starts: exit 2, the file, line and field named, no stack trace, nothing written.
/// </summary>
public sealed class EarlyChecksTests : IDisposable
{
    readonly TempFolder _folder = new();
    public void Dispose() => _folder.Dispose();

    string Output => Path.Combine(_folder.Path, "out");

    async Task<CliRunner.Outcome> RunRefusedAsync(string text)
    {
        var file = _folder.Write("bad.yaml", text);
        var run = await CliRunner.RunAsync("run", file, "--json");
        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Contains($"error: {file}:", run.Stderr);
        Assert.DoesNotContain("   at ", run.Stderr);
        Assert.DoesNotContain("Exception", run.Stderr);
        Assert.Equal("", run.Stdout);
        Assert.False(Directory.Exists(Output), "the refused run wrote its output folder");
        return run;
    }

    [Fact]
    public async Task An_unknown_task_parameter_is_refused_at_its_line()
    {
        var text = TinyYaml.With(TinyYaml.Text(Output), "  task_parameters: { length: 3 }", "  task_parameters: { lenght: 3 }");
        var run = await RunRefusedAsync(text);
        Assert.Contains($":{TinyYaml.LineOf(text, "  task_parameters: { lenght: 3 }")}: data.task_parameters: task 'reverse' has no parameter 'lenght'", run.Stderr);
    }

    [Fact]
    public async Task Examples_longer_than_the_models_positions_are_refused()
    {
        var text = TinyYaml.With(TinyYaml.Text(Output), "    max_position_embeddings: 32", "    max_position_embeddings: 8");
        var run = await RunRefusedAsync(text);
        Assert.Contains("data.task_parameters: training example 1", run.Stderr);
        Assert.Contains("longer than the model's max_position_embeddings (8)", run.Stderr);
    }

    [Fact]
    public async Task A_bad_line_in_a_dpo_pairs_file_is_refused_before_the_warm_up()
    {
        var train = _folder.Write("pairs.jsonl", "{\"prompt\": \"12+3=\", \"chosen\": \"15\", \"rejected\": \"14\"}\n{\"prompt\": \"1+1=\", \"chosen\": \"2\"}\n");
        var eval = _folder.Write("eval.jsonl", "{\"prompt\": \"2+2=\", \"chosen\": \"4\", \"rejected\": \"5\"}\n");
        var text = TinyYaml.Text(Output).Replace("algorithm: sft", "algorithm: dpo")
                   + $"\ndpo:\n  steps: 5\n  pairs:\n    train_file: {train}\n    eval_file: {eval}\n";
        var run = await RunRefusedAsync(text);
        Assert.Contains("dpo.pairs", run.Stderr);
        Assert.Contains($"{train}:2", run.Stderr);
    }

    [Fact]
    public async Task A_judge_key_variable_that_is_not_set_is_refused()
    {
        var variable = $"RLHF_TEST_UNSET_{Guid.NewGuid():N}";
        var text = TinyYaml.Text(Output).Replace("algorithm: sft", "algorithm: rlaif") + $$"""

            rlaif:
              rounds: 1
              judge:
                type: http
                base_url: http://127.0.0.1:9/v1
                model: judge-1
                api_key_env: {{variable}}
            """;
        var run = await RunRefusedAsync(text);
        // Checked by the judge grain when the run starts, on the silo that will send the key (here, the embedded one).
        Assert.Contains($"rlaif.judge.api_key_env: the environment variable '{variable}' is not set", run.Stderr);
        Assert.Contains("the silo that runs the judge", run.Stderr);
    }

    [Fact]
    public void The_loader_and_the_grain_run_the_same_complete_check()
    {
        // A GRPO config built in code with a bad loss_type used to pass Start and fail after the warm-up.
        var config = Grains.TinyExperiment.Create("in-code") with
        {
            Algorithm = Algorithm.Grpo,
            Grpo = new GrpoSection { Steps = 2, PromptsPerStep = 2, NumGenerations = 2, LossType = (GrpoLossType)42 },
        };
        var error = Assert.Single(ConfigChecks.Errors(config));
        Assert.Equal("grpo.loss_type", error.Path);
        // The field is an enum, so code can only get a bad value by casting a number into it.
        Assert.Contains("grpo.loss_type must be one of: grpo, dapo, dr_grpo, cispo (got 42)", Assert.Throws<ArgumentException>(() => ConfigChecks.ThrowIfInvalid(config)).Message);

        // The YAML path reports the same message at the field's line.
        var yaml = TinyYaml.Text(Output).Replace("algorithm: sft", "algorithm: grpo") + "\ngrpo:\n  steps: 2\n  loss_type: dpo\n";
        var loaded = Assert.Throws<ConfigLoadException>(() => ExperimentYamlLoader.Parse(yaml, "g.yaml"));
        Assert.Contains($"g.yaml:{TinyYaml.LineOf(yaml, "  loss_type: dpo")}: grpo.loss_type must be one of: grpo, dapo, dr_grpo, cispo (got 'dpo')", loaded.Errors);
    }
}
