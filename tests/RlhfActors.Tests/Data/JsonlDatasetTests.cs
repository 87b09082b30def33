using RlhfActors.Training.Data;

namespace RlhfActors.Tests.Data;

public sealed class JsonlDatasetTests : IDisposable
{
    readonly TempDirectory _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void Reads_prompt_completion_lines_in_order_skipping_blank_lines()
    {
        var path = _folder.Write("train.jsonl",
            "{\"prompt\": \"1+1=\", \"completion\": \"2\"}\n\n   \r\n{\"prompt\": \"héllo\", \"completion\": \" ✓\\n\", \"extra\": 1}\n" +
            "{\"prompt\": \"q\", \"answer\": \"42\"}");
        Assert.Equal(
            new[] { new PromptCompletion("1+1=", "2"), new PromptCompletion("héllo", " ✓\n"), new PromptCompletion("q", "42") },
            JsonlDataset.ReadPromptCompletions(path));
    }

    [Fact]
    public void Messages_render_as_role_lines_ending_with_the_assistant_prefix()
    {
        var path = _folder.Write("chat.jsonl", """
            {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]}
            {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}, {"role": "user", "content": "bye"}, {"role": "assistant", "content": "ciao"}]}
            """);
        Assert.Equal(
            new[]
            {
                new PromptCompletion("system: Be brief.\nuser: 2+2?\nassistant: ", "4"),
                new PromptCompletion("user: hi\nassistant: hello\nuser: bye\nassistant: ", "ciao"),
            },
            JsonlDataset.ReadPromptCompletions(path));
    }

    [Theory]
    [InlineData("{\"prompt\": \"a\", \"completion\": ", "not valid JSON")]
    [InlineData("[\"a\", \"b\"]", "expected a JSON object")]
    [InlineData("\"just a string\"", "expected a JSON object")]
    [InlineData("{\"completion\": \"b\"}", "'prompt' is missing")]
    [InlineData("{\"prompt\": \"a\"}", "'completion' is missing")]
    [InlineData("{\"prompt\": \"a\", \"completion\": 7}", "'completion' must be a string")]
    [InlineData("{\"prompt\": null, \"completion\": \"b\"}", "'prompt' must be a string")]
    [InlineData("{\"messages\": \"hi\"}", "'messages' must be an array")]
    [InlineData("{\"messages\": [\"hi\"]}", "messages[0] must be an object")]
    [InlineData("{\"messages\": [{\"role\": \"user\"}]}", "'messages[0].content' is missing")]
    [InlineData("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}", "no assistant turn")]
    [InlineData("{\"messages\": [{\"role\": \"assistant\", \"content\": \"x\"}, {\"role\": \"user\", \"content\": \"hi\"}]}", "must end with the assistant turn")]
    [InlineData("{\"messages\": [], \"prompt\": \"a\"}", "both 'messages' and 'prompt'")]
    public void A_malformed_line_is_an_error_naming_file_and_line(string badLine, string why)
    {
        var path = _folder.Write("bad.jsonl", "{\"prompt\": \"a\", \"completion\": \"b\"}\n\n" + badLine + "\n{\"prompt\": \"c\", \"completion\": \"d\"}\n");
        var error = Assert.Throws<InvalidDataException>(() => JsonlDataset.ReadPromptCompletions(path));
        Assert.StartsWith($"{path}:3: ", error.Message);
        Assert.Contains(why, error.Message);
    }

    [Theory]
    [InlineData("")]
    [InlineData("\n  \n\n")]
    public void A_file_without_examples_is_an_error(string content)
    {
        var path = _folder.Write("empty.jsonl", content);
        var error = Assert.Throws<InvalidDataException>(() => JsonlDataset.ReadPromptCompletions(path));
        Assert.Contains(path, error.Message);
        Assert.Contains("no examples", error.Message);
    }
}
