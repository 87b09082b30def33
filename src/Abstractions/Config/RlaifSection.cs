namespace RlhfActors.Abstractions.Config;

/// <summary>
/// Iterative online DPO with an AI judge (<c>algorithm: rlaif</c>): each round the policy samples
/// <see cref="NumCandidates"/> completions per prompt, <c>JudgeGrain</c> ranks them, the best and worst become a
/// preference pair, and <see cref="StepsPerRound"/> DPO updates (<c>dpo:</c> section) train on the round's pairs.
/// No ground-truth label enters the loop: the verifier only measures held-out accuracy after each round.
/// </summary>
[GenerateSerializer, Immutable, Alias("rlhf.RlaifSection")]
public sealed record RlaifSection
{
    [Id(0)] public int Rounds { get; init; } = 4;
    [Id(1)] public int PromptsPerRound { get; init; } = 256;
    [Id(2)] public int NumCandidates { get; init; } = 4;
    [Id(3)] public int StepsPerRound { get; init; } = 16;
    [Id(4)] public double Temperature { get; init; } = 1.0;
    [Id(5)] public int MaxCompletionLength { get; init; } = 32;
    [Id(6)] public int Samplers { get; init; } = 1;
    [Id(7)] public JudgeSection Judge { get; init; } = new();
    /// <summary>Start each round's DPO reference from the round's starting policy (on-policy iterative DPO), rather
    /// than keeping the SFT policy as the reference for every round.</summary>
    [Id(8)] public bool RefreshReference { get; init; } = true;

    /// <summary>This section's rules, each naming its YAML field (the one home of the field's validation).</summary>
    public void Validate(ConfigRules rules)
    {
        rules.Check(Rounds > 0, "rlaif.rounds", "must be > 0", Rounds);
        rules.Check(PromptsPerRound > 0, "rlaif.prompts_per_round", "must be > 0", PromptsPerRound);
        rules.Check(NumCandidates >= 2, "rlaif.num_candidates", "must be >= 2 (a pair needs two candidates)", NumCandidates);
        rules.Check(StepsPerRound > 0, "rlaif.steps_per_round", "must be > 0", StepsPerRound);
        rules.Check(Temperature > 0 && double.IsFinite(Temperature), "rlaif.temperature", "must be > 0", Temperature);
        rules.Check(MaxCompletionLength > 0, "rlaif.max_completion_length", "must be > 0", MaxCompletionLength);
        rules.Check(Samplers is >= 1 and <= 64 && Samplers <= PromptsPerRound, "rlaif.samplers", "must be between 1 and min(64, prompts_per_round)", Samplers);
        Judge.Validate(rules, "rlaif.judge");
    }
}

/// <summary>What judges the candidates (<c>rlaif.judge.type</c>, <c>online_dpo.judge.type</c>). <c>verifier</c>: the
/// task's own answer check (exact match for data files), a ground-truth label rather than an AI judge.</summary>
public enum JudgeType { RewardModel, Decoder, Http, Verifier }

/// <summary>The AI judge (<c>rlaif.judge:</c>). <c>reward_model</c>: the model trained by the <c>reward_model:</c>
/// stage; <c>decoder</c>: a Hugging Face decoder folder (<c>model</c>) asked to answer "A" or "B"; <c>http</c>: an OpenAI-compatible chat-completions endpoint (the API key only from the environment variable
/// named by <c>api_key_env</c>); <c>verifier</c>: the task's answer check, right ≻ wrong, ties dropped.</summary>
[GenerateSerializer, Immutable, Alias("rlhf.JudgeSection")]
public sealed record JudgeSection
{
    [Id(0)] public JudgeType Type { get; init; } = JudgeType.RewardModel;
    [Id(1)] public string? BaseUrl { get; init; }
    /// <summary>http: the model name sent to the endpoint; decoder: the model folder.</summary>
    [Id(2)] public string? Model { get; init; }
    [Id(3)] public string? ApiKeyEnv { get; init; }
    [Id(4)] public int MaxConcurrency { get; init; } = 8;
    [Id(5)] public double TimeoutSeconds { get; init; } = 30;
    [Id(6)] public int Retries { get; init; } = 4;
    /// <summary>Judge every pair in both orders (A, B) and (B, A) to cancel position bias.</summary>
    [Id(7)] public bool BothOrders { get; init; } = true;
    /// <summary>Keep a prompt's best ≻ worst pair only when the judge's own probability for it is at least this
    /// (reward model: σ(r_best − r_worst); pairwise: its verdict on the two). 0.5 keeps every pair it can tell apart;
    /// higher trades pairs for a judge that is right more often on the ones it keeps.</summary>
    [Id(8)] public double MinConfidence { get; init; } = 0.5;
    /// <summary>http: the longest answer read (bytes); a longer one fails the request rather than being read whole.
    /// 1 MiB is hundreds of times a chat completion of a few tokens.</summary>
    [Id(9)] public int MaxResponseBytes { get; init; } = 1 << 20;

    /// <summary>This section's rules, each naming its YAML field under <paramref name="at"/> (the section that holds
    /// the judge: <c>rlaif.judge</c> or <c>online_dpo.judge</c>).</summary>
    public void Validate(ConfigRules rules, string at = "rlaif.judge")
    {
        rules.Check(Enum.IsDefined(Type), $"{at}.type", ConfigNames.OneOf<JudgeType>(), Type);
        if (Type == JudgeType.Http)
        {
            rules.Check(Uri.TryCreate(BaseUrl, UriKind.Absolute, out var url) && url.Scheme is "http" or "https", $"{at}.base_url",
                "must be an http(s) URL such as https://api.example.com/v1", BaseUrl);
            rules.Check(!string.IsNullOrWhiteSpace(Model), $"{at}.model", "must name the endpoint's model", Model);
        }
        if (Type == JudgeType.Decoder)
            rules.Check(!string.IsNullOrWhiteSpace(Model), $"{at}.model", "must be the judge's model folder", Model);
        rules.Check(ApiKeyEnv is null || ApiKeyEnv.Length > 0, $"{at}.api_key_env", "must name an environment variable", ApiKeyEnv);
        rules.Check(MaxConcurrency is >= 1 and <= 256, $"{at}.max_concurrency", "must be between 1 and 256", MaxConcurrency);
        rules.Check(TimeoutSeconds > 0 && double.IsFinite(TimeoutSeconds), $"{at}.timeout_seconds", "must be > 0", TimeoutSeconds);
        rules.Check(Retries is >= 0 and <= 20, $"{at}.retries", "must be between 0 and 20", Retries);
        rules.Check(MaxResponseBytes is >= 1 << 10 and <= 1 << 30, $"{at}.max_response_bytes",
            "must be between 1024 (1 KiB) and 1073741824 (1 GiB)", MaxResponseBytes);
        rules.Check(MinConfidence is >= 0.5 and < 1, $"{at}.min_confidence",
            "must be in [0.5, 1): the judge's probability that best beats worst (0.5 keeps every pair)", MinConfidence);
    }
}
