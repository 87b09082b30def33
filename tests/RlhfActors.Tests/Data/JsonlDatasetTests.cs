using System.Text;
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
            new[] { new PromptCompletion("1+1=", "2"), new PromptCompletion("héllo", " ✓\n") { Columns = """{"extra":1}""" }, new PromptCompletion("q", "42") },
            JsonlDataset.ReadPromptCompletions(path));
    }

    [Fact]
    public void A_prompt_lines_other_fields_are_kept_for_the_reward_functions_and_hashed()
    {
        var path = _folder.Write("rl.jsonl", """
            {"prompt": "2+3=", "solution": "5", "difficulty": 1, "tests": ["x"]}
            {"prompt": "4+4=", "answer": "8"}
            """);
        var read = JsonlDataset.ReadPromptCompletions(path);
        Assert.Equal("""{"difficulty":1,"tests":["x"]}""", read[0].Columns);
        Assert.Equal("5", read[0].Reference);
        Assert.Null(read[1].Columns);
        var changed = JsonlDataset.ReadPromptCompletions(_folder.Write("rl2.jsonl", """
            {"prompt": "2+3=", "solution": "5", "difficulty": 2, "tests": ["x"]}
            {"prompt": "4+4=", "answer": "8"}
            """));
        Assert.NotEqual(ExperimentData.DatasetSha256(new LoadedData(read, read, null!)), ExperimentData.DatasetSha256(new LoadedData(changed, changed, null!)));
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
    [InlineData("{\"completion\": \"b\"}", "has none of 'prompt', 'messages' and 'text'")]
    [InlineData("{\"prompt\": \"a\"}", "'completion' is missing")]
    [InlineData("{\"prompt\": \"a\", \"completion\": 7}", "'completion' must be a string")]
    [InlineData("{\"prompt\": null, \"completion\": \"b\"}", "'prompt' must be a string")]
    [InlineData("{\"messages\": \"hi\"}", "'messages' must be an array")]
    [InlineData("{\"messages\": [\"hi\"]}", "messages[0] must be an object")]
    [InlineData("{\"messages\": [{\"role\": \"user\"}]}", "messages[0].content must be a string")]
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

    string WriteBytes(string name, params byte[][] parts)
    {
        var file = Path.Combine(_folder.Path, name);
        File.WriteAllBytes(file, [.. parts.SelectMany(p => p)]);
        return file;
    }

    static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    [Fact]
    public void Bytes_that_are_not_UTF8_are_an_error_at_their_own_line()
    {
        // Ten thousand good lines first, so the bad byte lies far past the first read buffer: the line must still be its own.
        var good = string.Concat(Enumerable.Repeat("{\"prompt\": \"a\", \"completion\": \"b\"}\n", 10_000));
        var path = WriteBytes("latin1.jsonl", Utf8(good + "{\"prompt\": \"caf"), [0xE9], Utf8("\", \"completion\": \"b\"}\n"));
        var error = Assert.Throws<InvalidDataException>(() => JsonlDataset.ReadPromptCompletions(path));
        Assert.Equal($"{path}:10001: not valid UTF-8 (byte 0xE9 at byte 16 of the line)", error.Message);
    }

    [Fact]
    public void A_line_longer_than_the_cap_is_an_error_naming_file_line_and_cap()
    {
        var path = _folder.Write("long.jsonl",
            "{\"prompt\": \"a\", \"completion\": \"b\"}\n{\"prompt\": \"" + new string('x', 1 << 20) + "\", \"completion\": \"b\"}\n");
        var error = Assert.Throws<InvalidDataException>(() => JsonlDataset.ReadPromptCompletions(path));
        Assert.Equal($"{path}:2: line is longer than 1048576 bytes (the limit for a JSONL line)", error.Message);
    }

    [Fact]
    public void A_line_at_the_cap_is_read_with_or_without_a_carriage_return()
    {
        const string line = "{\"prompt\": \"a\", \"completion\": \"b\"}";
        var limits = new JsonlLimits { MaxLineBytes = line.Length };
        var path = _folder.Write("exact.jsonl", $"{line}\r\n{line}\n{line}");
        Assert.Equal(3, JsonlDataset.ReadPromptCompletions(path, limits).Count);
        var longer = _folder.Write("longer.jsonl", $"{line}\n{line} \r\n");
        var error = Assert.Throws<InvalidDataException>(() => JsonlDataset.ReadPromptCompletions(longer, limits));
        Assert.Equal($"{longer}:2: line is longer than {line.Length} bytes (the limit for a JSONL line)", error.Message);
    }

    [Fact]
    public void More_examples_than_the_cap_is_an_error_naming_file_line_and_cap()
    {
        // The default cap is 10,000,000 examples; a small one reaches the same check without a huge file.
        Assert.Equal(10_000_000, JsonlLimits.Default.MaxExamples);
        var path = _folder.Write("many.jsonl", string.Concat(Enumerable.Repeat("{\"prompt\": \"a\", \"completion\": \"b\"}\n\n", 4)));
        var error = Assert.Throws<InvalidDataException>(() => JsonlDataset.ReadPromptCompletions(path, new JsonlLimits { MaxExamples = 3 }));
        Assert.Equal($"{path}:7: more than 3 examples (the limit for a JSONL file)", error.Message);
    }

    [Fact]
    public void A_byte_order_mark_is_not_part_of_the_first_line()
    {
        var path = WriteBytes("bom.jsonl", Encoding.UTF8.Preamble.ToArray(), Utf8("{\"prompt\": \"a\", \"completion\": \"b\"}\r\n"));
        Assert.Equal(new[] { new PromptCompletion("a", "b") }, JsonlDataset.ReadPromptCompletions(path));
    }

    [Theory]
    [InlineData("{\"prompt\": \"héllo\", \"completion\": \"b\"}", "character 'é' (U+00E9) is not in the char tokenizer's vocabulary (printable ASCII and '\\n' only), at position 1 of field 'prompt'")]
    [InlineData("{\"prompt\": \"a\", \"completion\": \"ok \\ud83d\\ude00\"}", "character '\ud83d\ude00' (U+1F600) is not in the char tokenizer's vocabulary (printable ASCII and '\\n' only), at position 3 of field 'completion'")]
    [InlineData("{\"prompt\": \"a\\tb\", \"completion\": \"c\"}", "character U+0009 is not in the char tokenizer's vocabulary")]
    public void A_character_the_char_tokenizer_lacks_is_an_error_at_its_file_and_line(string badLine, string why)
    {
        var train = _folder.Write("train.jsonl", "{\"prompt\": \"a\", \"completion\": \"b\"}\n" + badLine + "\n");
        var eval = _folder.Write("eval.jsonl", "{\"prompt\": \"a\", \"completion\": \"b\"}\n");
        var error = Assert.Throws<InvalidDataException>(() =>
            ExperimentData.Load(new DataSpec { TrainFile = train, EvalFile = eval, Tokenizer = "char" }));
        Assert.StartsWith($"{train}:2: {why}", error.Message);
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
