namespace RlhfActors.Training.Tokenization;

public static class Tokenizers
{
    /// <summary>"char" gives the built-in character tokenizer; otherwise a path to a Hugging Face tokenizer.json
    /// (or a folder that holds one).</summary>
    public static ITokenizer Create(string spec) => throw new NotImplementedException("filled in by the tokenizer work");
}
