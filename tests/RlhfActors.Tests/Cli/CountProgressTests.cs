using RlhfActors.Client.Progress;

namespace RlhfActors.Tests.Cli;

public sealed class CountProgressTests
{
    [Fact]
    public void On_a_terminal_one_line_is_redrawn_and_ended()
    {
        var output = new StringWriter();
        var progress = new CountProgress(output, interactive: true, "evaluating m:");
        progress.Report(128, 300);
        progress.Report(300, 300);
        progress.Finish();
        var text = output.ToString();
        Assert.StartsWith("\revaluating m: 128/300 (43%), ETA ", text);
        Assert.Contains("\revaluating m: 300/300 (100%)", text);
        Assert.EndsWith(Environment.NewLine, text);
    }

    [Fact]
    public void Off_a_terminal_nothing_is_written()
    {
        var output = new StringWriter();
        var progress = new CountProgress(output, interactive: false, "evaluating m:");
        progress.Report(1, 2);
        progress.Finish();
        Assert.Equal("", output.ToString());
    }
}
