using System.Text;
using System.Text.Json;

namespace RlhfActors.Bench;

/// <summary>
/// Writes one result as one JSON object on one stdout line, fields in the order given, so the output can be
/// piped into jq or appended to a log and diffed. Progress text goes to stderr and never mixes in.
/// </summary>
public static class JsonLine
{
    public static void Write(string bench, params (string Key, object Value)[] fields)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("bench", bench);
            foreach (var (key, value) in fields)
            {
                switch (value)
                {
                    case string s: json.WriteString(key, s); break;
                    case bool b: json.WriteBoolean(key, b); break;
                    case int i: json.WriteNumber(key, i); break;
                    case long l: json.WriteNumber(key, l); break;
                    // Three decimals: more would be noise at these timings, and short lines read better.
                    case double d: json.WriteNumber(key, Math.Round(d, 3)); break;
                    default: throw new ArgumentException($"field '{key}' has unsupported type {value.GetType().Name}");
                }
            }
            json.WriteEndObject();
        }
        Console.Out.WriteLine(Encoding.UTF8.GetString(buffer.ToArray()));
        Console.Out.Flush();
    }

    /// <summary>Human-readable progress on stderr, so stdout stays pure JSON lines.</summary>
    public static void Progress(string message) => Console.Error.WriteLine($"[bench] {message}");
}
