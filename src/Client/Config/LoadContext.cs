namespace RlhfActors.Client.Config;

/// <summary>Collects errors while reading one YAML file and remembers the line of every field read, so that a value
/// found wrong later (by validation) can still be reported at its line.</summary>
sealed class LoadContext(string file)
{
    readonly Dictionary<string, long> _lines = new(StringComparer.Ordinal);
    readonly List<string> _errors = [];

    public string File { get; } = file;
    public bool HasErrors => _errors.Count > 0;

    public void RecordLine(string path, long line) => _lines[path] = line;

    /// <summary>Line of <paramref name="path"/>, or of its nearest parent that was read.</summary>
    public long? LineOf(string path)
    {
        for (var p = path; p.Length > 0; p = p.Contains('.') ? p[..p.LastIndexOf('.')] : "")
            if (_lines.TryGetValue(p, out var line)) return line;
        return null;
    }

    public void Error(long? line, string message) =>
        _errors.Add(line is { } l ? $"{File}:{l}: {message}" : $"{File}: {message}");

    /// <summary>An error about a field, at the field's line when known.</summary>
    public void FieldError(string path, string message) => Error(LineOf(path), message);

    public void ThrowIfErrors()
    {
        if (HasErrors) throw new ConfigLoadException(File, [.. _errors]);
    }
}
