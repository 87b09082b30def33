using System.Diagnostics;
using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Experiments;
using RlhfActors.Abstractions.Grains;

namespace RlhfActors.Tests.Grains;

[Collection(ClusterCollection.Name)]
public sealed class ExperimentGrainTests(ClusterFixture fixture)
{
    static string NewName(string what) => $"{what}-{Guid.NewGuid():N}"[..24];

    [Fact]
    public async Task Start_refuses_an_invalid_config_and_names_the_field()
    {
        var config = TinyExperiment.Create(NewName("bad-lr"));
        config = config with { Sft = config.Sft with { LearningRate = -1 } };
        var grain = fixture.Client.GetGrain<IExperimentGrain>(config.Name);

        var error = await Assert.ThrowsAsync<ArgumentException>(() => grain.Start(config));

        Assert.Contains("sft.learning_rate must be > 0 (got -1)", error.Message);
        Assert.Equal(ExperimentState.Pending, (await grain.GetStatus()).State);
    }

    [Fact]
    public async Task Start_refuses_a_config_whose_name_is_not_the_grain_key()
    {
        var config = TinyExperiment.Create("the-name");
        var error = await Assert.ThrowsAsync<ArgumentException>(() => fixture.Client.GetGrain<IExperimentGrain>("another-key").Start(config));
        Assert.Contains("does not match experiment 'another-key'", error.Message);
    }

    [Fact]
    public async Task Start_refuses_an_output_dir_holding_an_earlier_runs_checkpoint()
    {
        var config = TinyExperiment.Create(NewName("reuse"));
        Directory.CreateDirectory(Path.Combine(config.OutputDir, "checkpoint-30"));
        try
        {
            var error = await Assert.ThrowsAsync<InvalidOperationException>(() =>
                fixture.Client.GetGrain<IExperimentGrain>(config.Name).Start(config));
            Assert.Contains("already holds checkpoint-30", error.Message);
        }
        finally
        {
            Directory.Delete(config.OutputDir, recursive: true);
        }
    }

    [Fact]
    public async Task A_run_that_fails_ends_Failed_with_the_reason()
    {
        // A missing model folder is refused by Start itself, before any state is written.
        var bad = TinyExperiment.Create(NewName("no-model"));
        var missing = Path.Combine(Path.GetTempPath(), $"no-such-model-{Guid.NewGuid():N}");
        bad = bad with { Model = bad.Model with { Init = missing, ConfigJson = null, Tokenizer = "char" } };
        var refused = await Assert.ThrowsAsync<ArgumentException>(() => fixture.Client.GetGrain<IExperimentGrain>(bad.Name).Start(bad));
        Assert.Contains("model.init", refused.Message);
        Assert.Contains(missing, refused.Message);

        // So is a config built in code that only the Training layer's rules reject (it used to fail after the warm-up).
        var grpo = TinyExperiment.Create(NewName("bad-loss")) with
        {
            Algorithm = Algorithm.Grpo,
            Grpo = new GrpoSection { Steps = 2, PromptsPerStep = 2, NumGenerations = 2, LossType = (GrpoLossType)42 },
        };
        var refusedGrpo = await Assert.ThrowsAsync<ArgumentException>(() => fixture.Client.GetGrain<IExperimentGrain>(grpo.Name).Start(grpo));
        Assert.Contains("grpo.loss_type must be one of", refusedGrpo.Message);

        // A run that diverges fails while running.
        var config = TinyExperiment.Create(NewName("diverges"));
        config = config with { Sft = config.Sft with { LearningRate = 1e9 } };
        var grain = fixture.Client.GetGrain<IExperimentGrain>(config.Name);

        await grain.Start(config);
        var status = await WaitUntilFinishedAsync(grain, TimeSpan.FromSeconds(30));

        Assert.Equal(ExperimentState.Failed, status.State);
        Assert.Contains("not finite", status.Error);
        Assert.Contains("max_nonfinite_steps", status.Error);
        Assert.Null(await grain.GetResult());

        // The outcome is persisted: a new activation reads it back from grain storage.
        await fixture.Cluster.DeactivateAsync(grain);
        var reread = await grain.GetStatus();
        Assert.Equal(ExperimentState.Failed, reread.State);
        Assert.Equal(status.Error, reread.Error);
        Assert.Equal(config.Sft.Steps, reread.TotalSteps);

        // A finished run can be started again (here it fails the same way).
        await grain.Start(config);
        Assert.Equal(ExperimentState.Failed, (await WaitUntilFinishedAsync(grain, TimeSpan.FromSeconds(30))).State);
    }

    /// <summary>End to end through both silos.</summary>
    [Fact]
    public async Task A_tiny_sft_run_completes_with_evaluations_and_a_checkpoint()
    {
        var config = TinyExperiment.Create(NewName("tiny-sft"));
        var grain = fixture.Client.GetGrain<IExperimentGrain>(config.Name);
        try
        {
            var clock = Stopwatch.StartNew();
            await grain.Start(config);
            var error = await Assert.ThrowsAsync<InvalidOperationException>(() => grain.Start(config));
            Assert.Contains("already running", error.Message);

            var slowestStatus = TimeSpan.Zero;
            var sawTraining = false;
            ExperimentStatus status;
            do
            {
                await Task.Delay(100);
                var call = Stopwatch.StartNew();
                status = await grain.GetStatus();
                slowestStatus = call.Elapsed > slowestStatus ? call.Elapsed : slowestStatus;
                sawTraining |= status.State == ExperimentState.Running && status.Step is > 0 and < 30;
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"still {status.State} at step {status.Step} after 60 s");
            } while (!status.IsFinished);

            Assert.True(status.State == ExperimentState.Completed, $"run failed: {status.Error}");
            Assert.Equal(30, status.Step);
            Assert.True(slowestStatus < TimeSpan.FromSeconds(2), $"GetStatus took {slowestStatus} while training ran");
            Assert.True(sawTraining || clock.Elapsed < TimeSpan.FromSeconds(2), "never saw the run between its first and last step");

            var result = await grain.GetResult();
            Assert.NotNull(result);
            Assert.Equal(30, result.Steps);
            Assert.InRange(result.AccuracyBefore, 0, 1);
            Assert.InRange(result.AccuracyAfter, 0, 1);
            Assert.True(result.TrainTokensPerSecond > 0);
            Assert.NotNull(result.FinalLoss);
            // Before, at step 15 (eval.every), after.
            Assert.Equal([0, 15, 30], result.Evals.Select(e => e.Step));
            Assert.Equal(Path.Combine(config.OutputDir, "checkpoint-30"), result.CheckpointPath);
            Assert.True(Directory.Exists(result.CheckpointPath), $"no checkpoint folder at {result.CheckpointPath}");
            Assert.True(File.Exists(Path.Combine(result.CheckpointPath, "config.json")));
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"tiny run took {clock.Elapsed}");

            // Found again through the cluster's directory, and the registry's index names the final version.
            Assert.Contains(config.Name, await fixture.Client.GetGrain<IExperimentDirectoryGrain>(RlhfActors.Abstractions.GrainKeys.ExperimentDirectory).List());
            var index = await fixture.Client.GetGrain<IPolicyGrain>(config.Name).GetIndex();
            Assert.Equal(result.PolicyVersion, index[^1].Version);
            Assert.Equal(30, index[^1].Step);
        }
        finally
        {
            if (Directory.Exists(config.OutputDir)) Directory.Delete(config.OutputDir, recursive: true);
        }
    }

    [Fact]
    public async Task Stop_is_a_no_op_on_an_experiment_that_is_not_running()
    {
        var grain = fixture.Client.GetGrain<IExperimentGrain>(NewName("idle"));
        var status = await grain.Stop("test");
        Assert.Equal(ExperimentState.Pending, status.State);
    }

    [Fact]
    public async Task Stop_ends_a_running_experiment_between_chunks_checkpoints_it_and_it_can_start_again()
    {
        var config = TinyExperiment.Create(NewName("stop"));
        config = LongRun(config);
        var again = config with { Sft = config.Sft with { Steps = 20 }, OutputDir = config.OutputDir + "-again" };
        var grain = fixture.Client.GetGrain<IExperimentGrain>(config.Name);
        try
        {
            await StartAndWaitForFirstStepAsync(grain, config);

            var stopped = await grain.Stop("test says so");

            Assert.True(stopped.State == ExperimentState.Stopped, $"{stopped.State}: {stopped.Error}");
            Assert.Equal("stopped: test says so", stopped.Error);
            Assert.InRange(stopped.Step, 1, 4999);
            Assert.Equal(0, stopped.Step % 10); // whole chunks of StepsPerCall only
            AssertCheckpointAt(config, stopped);
            await Task.Delay(200);
            Assert.Equal(stopped.Step, (await grain.GetStatus()).Step);
            Assert.Null(await grain.GetResult());

            // Into another output_dir: the stop's checkpoint now holds the first one.
            await grain.Start(again);
            var rerun = await WaitUntilFinishedAsync(grain, TimeSpan.FromSeconds(30));
            Assert.True(rerun.State == ExperimentState.Completed, $"{rerun.State}: {rerun.Error}");
        }
        finally
        {
            if (Directory.Exists(config.OutputDir)) Directory.Delete(config.OutputDir, recursive: true);
            if (Directory.Exists(again.OutputDir)) Directory.Delete(again.OutputDir, recursive: true);
        }
    }

    [Fact]
    public async Task Pause_holds_the_step_and_Resume_continues_to_the_end()
    {
        var config = TinyExperiment.Create(NewName("pause"));
        config = config with { Sft = config.Sft with { Steps = 60 }, Eval = config.Eval with { Every = 0 } };
        var grain = fixture.Client.GetGrain<IExperimentGrain>(config.Name);
        try
        {
            await StartAndWaitForFirstStepAsync(grain, config);

            var paused = await grain.Pause();

            Assert.True(paused.State == ExperimentState.Paused, $"{paused.State}: {paused.Error}");
            Assert.InRange(paused.Step, 10, 59);
            Assert.Null(paused.Eta);
            var error = await Assert.ThrowsAsync<InvalidOperationException>(() => grain.Pause());
            Assert.Contains($"is paused (step {paused.Step}/60)", error.Message);
            var start = await Assert.ThrowsAsync<InvalidOperationException>(() => grain.Start(config));
            Assert.Contains("resume or stop it first", start.Message);

            // No work while paused: the step stays put across two polls a second apart.
            await Task.Delay(TimeSpan.FromSeconds(1));
            var first = await grain.GetStatus();
            await Task.Delay(TimeSpan.FromSeconds(1));
            var second = await grain.GetStatus();
            Assert.Equal(ExperimentState.Paused, second.State);
            Assert.Equal(paused.Step, first.Step);
            Assert.Equal(paused.Step, second.Step);

            var resumed = await grain.Resume();
            Assert.Equal(ExperimentState.Running, resumed.State);
            Assert.True(resumed.Step >= paused.Step, $"resumed at step {resumed.Step}, paused at {paused.Step}");
            var done = await WaitUntilFinishedAsync(grain, TimeSpan.FromSeconds(30));
            Assert.True(done.State == ExperimentState.Completed, $"{done.State}: {done.Error}");
            Assert.Equal(60, done.Step);
            Assert.Equal(60, (await grain.GetResult())!.Steps);

            var resume = await Assert.ThrowsAsync<InvalidOperationException>(() => grain.Resume());
            Assert.Contains("is completed (step 60/60): only a paused experiment can be resumed", resume.Message);
        }
        finally
        {
            if (Directory.Exists(config.OutputDir)) Directory.Delete(config.OutputDir, recursive: true);
        }
    }

    [Fact]
    public async Task Stop_of_a_paused_experiment_checkpoints_the_step_it_paused_at()
    {
        var config = LongRun(TinyExperiment.Create(NewName("pause-stop")));
        var grain = fixture.Client.GetGrain<IExperimentGrain>(config.Name);
        try
        {
            await StartAndWaitForFirstStepAsync(grain, config);
            var paused = await grain.Pause();

            var stopped = await grain.Stop("done pausing");

            Assert.True(stopped.State == ExperimentState.Stopped, $"{stopped.State}: {stopped.Error}");
            Assert.Equal(paused.Step, stopped.Step);
            AssertCheckpointAt(config, stopped);
        }
        finally
        {
            if (Directory.Exists(config.OutputDir)) Directory.Delete(config.OutputDir, recursive: true);
        }
    }

    [Fact]
    public async Task Pause_and_Resume_of_an_experiment_never_started_name_its_state()
    {
        var grain = fixture.Client.GetGrain<IExperimentGrain>(NewName("never"));

        var pause = await Assert.ThrowsAsync<InvalidOperationException>(() => grain.Pause());
        var resume = await Assert.ThrowsAsync<InvalidOperationException>(() => grain.Resume());

        Assert.Contains("is pending (never started): only a running experiment can be paused", pause.Message);
        Assert.Contains("is pending (never started): only a paused experiment can be resumed", resume.Message);
    }

    /// <summary>A stop's checkpoint: the folder of the step the run stopped at, complete (its manifest is written last).</summary>
    static void AssertCheckpointAt(ExperimentConfig config, ExperimentStatus stopped)
    {
        var expected = Path.GetFullPath(Path.Combine(config.OutputDir, $"checkpoint-{stopped.Step}"));
        Assert.Equal(expected, stopped.CheckpointPath);
        Assert.True(File.Exists(Path.Combine(expected, "manifest.json")), $"no manifest.json in {expected}");
    }

    /// <summary>A controller that loses its activation mid-run (silo restart) comes
    /// back from persisted state and reports the run as interrupted instead of "running" forever.</summary>
    [Fact]
    public async Task A_lora_grpo_run_whose_controller_was_deactivated_reports_it_was_interrupted()
    {
        // A GRPO stage that trains LoRA adapters cannot resume yet (full fine-tuning can: GrpoRecoveryTests), so it
        // ends interrupted, with the reason.
        var config = RlhfActors.Tests.Grpo.TinyGrpo.Create(NewName("lost"), grpoSteps: 2000) with
        {
            Peft = new PeftSection { Type = PeftType.Lora, R = 4, Alpha = 8, Stages = [PeftSection.GrpoStage] },
        };
        var grain = fixture.Client.GetGrain<IExperimentGrain>(config.Name);
        try
        {
            await StartAndWaitForFirstStepAsync(grain, config);

            await fixture.Cluster.DeactivateAsync(grain);
            var status = await grain.GetStatus();

            Assert.Equal(ExperimentState.Failed, status.State);
            Assert.Contains("interrupted", status.Error);
            Assert.Contains("LoRA adapters cannot resume", status.Error);
            Assert.True(status.Step > 0, "the persisted step was lost");
        }
        finally
        {
            await fixture.Client.GetGrain<ILearnerGrain>(config.Name).Release();
            if (Directory.Exists(config.OutputDir)) Directory.Delete(config.OutputDir, recursive: true);
        }
    }

    static async Task<ExperimentStatus> WaitUntilFinishedAsync(IExperimentGrain grain, TimeSpan limit)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var status = await grain.GetStatus();
            if (status.IsFinished) return status;
            if (clock.Elapsed > limit) throw new TimeoutException($"experiment still {status.State} ({status.Phase}) after {limit}");
            await Task.Delay(50);
        }
    }

    /// <summary>A run long enough to be caught mid-way, with no evaluations in between.</summary>
    static ExperimentConfig LongRun(ExperimentConfig config) =>
        config with { Sft = config.Sft with { Steps = 5000 }, Eval = config.Eval with { Every = 0 } };

    static async Task StartAndWaitForFirstStepAsync(IExperimentGrain grain, ExperimentConfig config)
    {
        await grain.Start(config);
        var clock = Stopwatch.StartNew();
        while ((await grain.GetStatus()) is { State: ExperimentState.Running, Step: 0 })
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), "no step within 30 s");
            await Task.Delay(20);
        }
    }
}
