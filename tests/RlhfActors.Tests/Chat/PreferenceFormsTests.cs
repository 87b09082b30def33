using RlhfActors.Tests.Data;
using RlhfActors.Tests.Tokenization;
using RlhfActors.Training.Chat;
using RlhfActors.Training.Data;
using RlhfActors.Training.RewardModeling;

namespace RlhfActors.Tests.Chat;

/// <summary>TRL's four preference forms (standard or conversational, explicit or implicit prompt) read into the same
/// pairs, the conversational ones through a real chat template (Llama-3.2's), with errors at file:line.</summary>
public sealed class PreferenceFormsTests : IDisposable
{
    readonly TempDirectory _folder = new();

    public void Dispose() => _folder.Dispose();

    PreferencePair Read(string line, ChatTemplate? template = null) =>
        PreferenceJsonl.ReadPreferencePairs(_folder.Write("prefs.jsonl", line + "\n"), template: template).Single().Pair;

    [Fact]
    public void An_implicit_prompt_is_split_as_trl_splits_it()
    {
        // TRL's documentation example: the space before the completions goes with them.
        Assert.Equal(new PreferencePair("The sky is", " blue.", " green."), Read("""{"chosen": "The sky is blue.", "rejected": "The sky is green."}"""));
        Assert.Equal(new PreferencePair("The sky is", " blue.", " green."), Read("""{"prompt": "The sky is", "chosen": " blue.", "rejected": " green."}"""));
        // Nothing shared: an empty prompt; one a prefix of the other: TRL keeps the last shared character out of the prompt.
        Assert.Equal(new PreferencePair("", "abc", "xbc"), Read("""{"chosen": "abc", "rejected": "xbc"}"""));
        Assert.Equal(new PreferencePair("ab", "c", "cd"), Read("""{"chosen": "abc", "rejected": "abcd"}"""));
    }

    [Fact]
    public void A_conversational_pair_renders_through_the_template_explicit_or_implicit_alike()
    {
        var template = ChatTemplate.Load(RealTokenizerFiles.Unpack("llama3_2", _folder))!;
        const string user = """{"role": "user", "content": "Capital of France?"}""";
        var explicitPair = Read($$"""{"prompt": [{{user}}], "chosen": [{"role": "assistant", "content": "Paris."}], "rejected": [{"role": "assistant", "content": "Lyon."}]}""", template);
        Assert.EndsWith("Capital of France?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n", explicitPair.Prompt);
        Assert.Equal("Paris.<|eot_id|>", explicitPair.Chosen);
        Assert.Equal("Lyon.<|eot_id|>", explicitPair.Rejected);
        var implicitPair = Read($$"""{"chosen": [{{user}}, {"role": "assistant", "content": "Paris."}], "rejected": [{{user}}, {"role": "assistant", "content": "Lyon."}]}""", template);
        Assert.Equal(explicitPair, implicitPair);
    }

    [Theory]
    [InlineData("""{"chosen": [{"role": "assistant", "content": "a"}], "rejected": [{"role": "assistant", "content": "b"}]}""", "share no leading message")]
    [InlineData("""{"prompt": "p", "chosen": "same", "rejected": "same"}""", "'chosen' and 'rejected' are the same completion")]
    [InlineData("""{"prompt": [{"role": "user", "content": "q"}], "chosen": [{"role": "assistant", "content": "a"}], "rejected": [{"role": "assistant", "content": 7}]}""", "rejected")]
    public void A_bad_pair_is_refused_at_its_line(string line, string why)
    {
        var template = ChatTemplate.Load(RealTokenizerFiles.Unpack("llama3_2", _folder))!;
        var path = _folder.Write("bad.jsonl", """{"prompt": "p", "chosen": "c", "rejected": "r"}""" + "\n" + line + "\n");
        var e = Assert.Throws<InvalidDataException>(() => PreferenceJsonl.ReadPreferencePairs(path, template: template));
        Assert.StartsWith($"{path}:2: ", e.Message);
        Assert.Contains(why, e.Message);
    }

    [Fact]
    public void A_conversational_pair_without_a_template_is_refused_at_its_line()
    {
        var path = _folder.Write("conv.jsonl", """{"prompt": [{"role": "user", "content": "q"}], "chosen": [{"role": "assistant", "content": "a"}], "rejected": [{"role": "assistant", "content": "b"}]}""" + "\n");
        var e = Assert.Throws<InvalidDataException>(() => PreferenceJsonl.ReadPreferencePairs(path));
        Assert.Equal($"{path}:1: a conversational preference needs the model's chat template, and its tokenizer folder has none", e.Message);
    }
}
