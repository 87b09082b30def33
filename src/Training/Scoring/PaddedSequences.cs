namespace RlhfActors.Training.Scoring;

/// <summary>Prompt + completion rows right-padded into one [B, W] id matrix: the layout every scorer here reads
/// (causal attention keeps real tokens off the pads, so no attention mask is needed). Completion token j of row b sits
/// at column len(prompt_b) + j; the hidden state that predicts it, or values it, is one column to the left.</summary>
public sealed record PaddedSequences(long[] Ids, int Batch, int Width, int[] PromptLengths, int[] CompletionLengths)
{
    public static PaddedSequences Build(IReadOnlyList<int[]> prompts, IReadOnlyList<int[]> completions, int padId, int maxPositions)
    {
        if (prompts.Count != completions.Count) throw new ArgumentException($"{prompts.Count} prompts for {completions.Count} completions");
        if (prompts.Count == 0) throw new ArgumentException("no sequences");
        if (prompts.Any(p => p.Length == 0)) throw new ArgumentException("every prompt needs at least one token");
        int batch = prompts.Count;
        int width = Enumerable.Range(0, batch).Max(b => prompts[b].Length + completions[b].Length);
        if (width > maxPositions)
            throw new ArgumentException($"a sequence of {width} tokens exceeds max_position_embeddings ({maxPositions})");
        var ids = new long[batch * width];
        Array.Fill(ids, padId);
        for (int b = 0; b < batch; b++)
        {
            int p = prompts[b].Length;
            for (int j = 0; j < p; j++) ids[b * width + j] = prompts[b][j];
            for (int j = 0; j < completions[b].Length; j++) ids[b * width + p + j] = completions[b][j];
        }
        return new PaddedSequences(ids, batch, width, prompts.Select(p => p.Length).ToArray(), completions.Select(c => c.Length).ToArray());
    }

    /// <summary>Column of each row's last real token (the end of its completion, or of its prompt when the completion
    /// is empty): where a sequence-level score is read.</summary>
    public long[] LastTokenColumns() => Enumerable.Range(0, Batch).Select(b => (long)(PromptLengths[b] + CompletionLengths[b] - 1)).ToArray();

    public int CompletionWidth => Math.Max(1, CompletionLengths.Max());
}
