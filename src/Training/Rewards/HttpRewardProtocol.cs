using System.Text.Json;
using RlhfActors.Training.Http;

namespace RlhfActors.Training.Rewards;

/// <summary>The wire format of <see cref="HttpReward"/>: request <c>{"prompts": [...], "completions": [...],
/// "references": [...]}</c> (a missing reference is JSON null) and, when the prompt lines have other fields,
/// <c>"columns": {"difficulty": [...], …}</c>: one list per field, a row without it null there, as TRL hands dataset
/// columns to a reward function (<c>reward_func(prompts, completions, **kwargs)</c>); response
/// <c>{"scores": [numbers]}</c> with one finite number per request, in order. Parallel arrays rather than objects so a
/// Python server can hand them straight to a batched model.</summary>
static class HttpRewardProtocol
{
    public static byte[] EncodeRequest(IReadOnlyList<RewardRequest> batch)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            WriteArray(json, "prompts", batch, r => r.Prompt);
            WriteArray(json, "completions", batch, r => r.Completion);
            WriteArray(json, "references", batch, r => r.Reference);
            WriteColumns(json, batch);
            json.WriteEndObject();
        }
        return buffer.ToArray();
    }

    /// <summary>The scores in <paramref name="body"/>, or an InvalidDataException naming <paramref name="url"/> and
    /// what is wrong with the answer; any of <paramref name="secrets"/> the body quotes is masked in the message.</summary>
    public static double[] ParseScores(string body, int expected, Uri url, IReadOnlyList<string?> secrets)
    {
        string Excerpt() => ResponseBody.Excerpt(body, secrets);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"reward server {url} answered non-JSON ({Secrets.Redact(e.Message, secrets)}): {Excerpt()}", e);
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException($"reward server {url} answered a JSON {root.ValueKind}, expected an object with a 'scores' array: {Excerpt()}");
            if (!root.TryGetProperty("scores", out var scores))
                throw new InvalidDataException($"reward server {url} answered without the field 'scores': {Excerpt()}");
            if (scores.ValueKind != JsonValueKind.Array)
                throw new InvalidDataException($"reward server {url} answered 'scores' as a JSON {scores.ValueKind}, expected an array of numbers");
            int length = scores.GetArrayLength();
            if (length != expected)
                throw new InvalidDataException($"reward server {url} answered {length} scores for a batch of {expected}");

            var result = new double[length];
            int i = 0;
            foreach (var element in scores.EnumerateArray())
            {
                if (element.ValueKind != JsonValueKind.Number)
                    throw new InvalidDataException($"reward server {url} answered 'scores'[{i}] as a JSON {element.ValueKind}, expected a number");
                // 1e999 is valid JSON but overflows to infinity; a non-finite reward would poison the advantages.
                if (!element.TryGetDouble(out var value) || !double.IsFinite(value))
                    throw new InvalidDataException($"reward server {url} answered 'scores'[{i}] = {element.GetRawText()}, which is not a finite number");
                result[i++] = value;
            }
            return result;
        }
    }

    static void WriteColumns(Utf8JsonWriter json, IReadOnlyList<RewardRequest> batch)
    {
        var rows = batch.Select(r => r.Columns is null ? null : JsonDocument.Parse(r.Columns)).ToArray();
        try
        {
            var names = rows.Where(d => d is not null).SelectMany(d => d!.RootElement.EnumerateObject().Select(p => p.Name)).Distinct().ToArray();
            if (names.Length == 0) return;
            json.WriteStartObject("columns");
            foreach (var name in names)
            {
                json.WriteStartArray(name);
                foreach (var row in rows)
                    if (row is not null && row.RootElement.TryGetProperty(name, out var value)) value.WriteTo(json);
                    else json.WriteNullValue();
                json.WriteEndArray();
            }
            json.WriteEndObject();
        }
        finally
        {
            foreach (var row in rows) row?.Dispose();
        }
    }

    static void WriteArray(Utf8JsonWriter json, string name, IReadOnlyList<RewardRequest> batch, Func<RewardRequest, string?> field)
    {
        json.WriteStartArray(name);
        foreach (var request in batch) json.WriteStringValue(field(request));
        json.WriteEndArray();
    }
}
