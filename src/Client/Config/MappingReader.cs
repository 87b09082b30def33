using RlhfActors.Abstractions.Config;
using System.Globalization;
using YamlDotNet.RepresentationModel;

namespace RlhfActors.Client.Config;

/// <summary>
/// Reads typed fields from one YAML mapping, naming each by its path (<c>sft.learning_rate</c>) in errors.
/// Every key asked for is remembered, so <see cref="RejectUnknown"/> can report a typo together with the keys that
/// were expected.
/// </summary>
sealed class MappingReader
{
    readonly LoadContext _context;
    readonly string _path;
    readonly Dictionary<string, (YamlNode Key, YamlNode Value)> _entries = new(StringComparer.Ordinal);
    readonly List<string> _known = [];

    public MappingReader(LoadContext context, YamlMappingNode node, string path)
    {
        _context = context;
        _path = path;
        foreach (var (key, value) in node.Children)
        {
            if (key is not YamlScalarNode { Value: { } name })
            {
                context.Error(key.Start.Line, $"{Describe()} has a key that is not a plain name");
                continue;
            }
            if (!_entries.TryAdd(name, (key, value)))
                context.Error(key.Start.Line, $"{PathOf(name)} appears twice");
        }
    }

    public string PathOf(string key) => _path.Length == 0 ? key : $"{_path}.{key}";

    public string? String(string key)
    {
        if (Scalar(key, out var path) is not { } scalar) return null;
        return IsNull(scalar) ? null : scalar.Value;
    }

    public int? Int(string key)
    {
        if (Scalar(key, out var path) is not { } scalar || IsNull(scalar)) return null;
        if (int.TryParse(scalar.Value!.Replace("_", ""), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value))
            return value;
        _context.Error(scalar.Start.Line, $"{path} must be a whole number (got '{scalar.Value}')");
        return null;
    }

    public double? Double(string key)
    {
        if (Scalar(key, out var path) is not { } scalar || IsNull(scalar)) return null;
        if (double.TryParse(scalar.Value!.Replace("_", ""), NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && double.IsFinite(value))
            return value;
        _context.Error(scalar.Start.Line, $"{path} must be a number (got '{scalar.Value}')");
        return null;
    }

    /// <summary>One of <typeparamref name="T"/>'s YAML names (<see cref="ConfigNames"/>); anything else is an error at
    /// its line listing them all.</summary>
    public T? Enum<T>(string key) where T : struct, System.Enum
    {
        if (Scalar(key, out var path) is not { } scalar || IsNull(scalar)) return null;
        if (ConfigNames.TryParse<T>(scalar.Value!, out var value)) return value;
        _context.Error(scalar.Start.Line, $"{path} {ConfigNames.OneOf<T>()} (got '{scalar.Value}')");
        return null;
    }

    public bool? Bool(string key)
    {
        if (Scalar(key, out var path) is not { } scalar || IsNull(scalar)) return null;
        switch (scalar.Value!.ToLowerInvariant())
        {
            case "true": return true;
            case "false": return false;
            default:
                _context.Error(scalar.Start.Line, $"{path} must be true or false (got '{scalar.Value}')");
                return null;
        }
    }

    /// <summary>true (1), false (0) or a number: a switch that also takes a rate.</summary>
    public double? BoolOrFraction(string key)
    {
        if (Scalar(key, out var path) is not { } scalar || IsNull(scalar)) return null;
        var text = scalar.Value!.ToLowerInvariant();
        if (text == "true") return 1;
        if (text == "false") return 0;
        if (double.TryParse(text.Replace("_", ""), NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && double.IsFinite(value))
            return value;
        _context.Error(scalar.Start.Line, $"{path} must be true, false or a number (got '{scalar.Value}')");
        return null;
    }

    /// <summary>An error at the line of <paramref name="key"/> (a value that parsed but is not allowed).</summary>
    public void ErrorAt(string key, string message) => _context.Error(Get(key, out _)?.Start.Line, message);

    /// <summary>A nested mapping, or null when the key is absent (or explicitly null).</summary>
    public MappingReader? Mapping(string key) =>
        RawMapping(key) is { } node ? new MappingReader(_context, node, PathOf(key)) : null;

    public YamlMappingNode? RawMapping(string key)
    {
        if (Get(key, out var path) is not { } node) return null;
        if (node is YamlScalarNode scalar && IsNull(scalar)) return null;
        if (node is YamlMappingNode mapping) return mapping;
        _context.Error(node.Start.Line, $"{path} must be a mapping of 'key: value' lines");
        return null;
    }

    /// <summary>A list of mappings (<c>- name: x</c> items), each read by its own reader with path <c>key[i]</c>;
    /// empty when the key is absent.</summary>
    public IReadOnlyList<MappingReader> MappingList(string key)
    {
        if (Get(key, out var path) is not { } node) return [];
        if (node is YamlScalarNode scalar && IsNull(scalar)) return [];
        if (node is not YamlSequenceNode sequence)
        {
            _context.Error(node.Start.Line, $"{path} must be a list ('- name: …' items)");
            return [];
        }
        var items = new List<MappingReader>();
        for (int i = 0; i < sequence.Children.Count; i++)
        {
            if (sequence.Children[i] is YamlMappingNode item)
            {
                _context.RecordLine($"{path}[{i}]", item.Start.Line);
                items.Add(new MappingReader(_context, item, $"{path}[{i}]"));
            }
            else
            {
                _context.Error(sequence.Children[i].Start.Line, $"{path}[{i}] must be a mapping ('- name: …')");
            }
        }
        return items;
    }

    /// <summary>A list of plain values (<c>[a, b]</c> or <c>- a</c> lines); null when the key is absent.</summary>
    public IReadOnlyList<string>? StringList(string key)
    {
        if (Get(key, out var path) is not { } node) return null;
        if (node is YamlScalarNode scalar && IsNull(scalar)) return null;
        if (node is YamlSequenceNode sequence && sequence.Children.All(c => c is YamlScalarNode))
            return sequence.Children.Select(c => ((YamlScalarNode)c).Value ?? "").ToArray();
        _context.Error(node.Start.Line, $"{path} must be a list of names, e.g. [q_proj, v_proj]");
        return null;
    }

    /// <summary>All keys of this mapping, for free-form sections (task parameters).</summary>
    public IEnumerable<string> Keys => _entries.Keys;

    /// <summary>Reports every key that no accessor asked for.</summary>
    public void RejectUnknown()
    {
        foreach (var (name, (key, _)) in _entries)
            if (!_known.Contains(name))
                _context.Error(key.Start.Line,
                    $"unknown key '{PathOf(name)}' in {Describe()}; known keys: {string.Join(", ", _known)}");
    }

    YamlNode? Get(string key, out string path)
    {
        path = PathOf(key);
        if (!_known.Contains(key)) _known.Add(key);
        if (!_entries.TryGetValue(key, out var entry)) return null;
        _context.RecordLine(path, entry.Value.Start.Line);
        return entry.Value;
    }

    YamlScalarNode? Scalar(string key, out string path)
    {
        if (Get(key, out path) is not { } node) return null;
        if (node is YamlScalarNode scalar) return scalar;
        _context.Error(node.Start.Line, $"{path} must be a single value, not a {(node is YamlMappingNode ? "mapping" : "list")}");
        return null;
    }

    string Describe() => _path.Length == 0 ? "the top level" : $"'{_path}'";

    /// <summary>YAML's null: an empty value, ~ or null, unquoted.</summary>
    public static bool IsNull(YamlScalarNode scalar) =>
        scalar.Style is YamlDotNet.Core.ScalarStyle.Plain && scalar.Value is null or "" or "~" or "null" or "Null" or "NULL";
}
