using RlhfActors.Training.Data;
using RlhfActors.Training.Model;
using RlhfActors.Training.Weights;

namespace RlhfActors.Training.Evaluation;

public sealed record EvalResult(int Examples, int Correct, double Accuracy, double Seconds);

/// <summary>Holds an inference copy of a policy and scores held-out examples by greedy generation.
/// Not thread-safe: one device worker thread calls it.</summary>
public sealed class PolicyEvaluator : IDisposable
{
    public static PolicyEvaluator Create(ModelConfig config, string tokenizer, string dtype = "bf16", string device = "cpu")
        => throw new NotImplementedException("filled in by the model work");
    public void LoadWeights(IReadOnlyList<TensorBytes> weights) => throw new NotImplementedException();
    public EvalResult Evaluate(IReadOnlyList<PromptCompletion> examples, IAnswerVerifier verifier, int maxNewTokens)
        => throw new NotImplementedException();
    public void Dispose() { }
}
