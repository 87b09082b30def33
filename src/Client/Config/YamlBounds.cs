using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace RlhfActors.Client.Config;

/// <summary>
/// Caps on an experiment file, checked on YamlDotNet's event stream before the representation model is built.
/// <para>
/// Why the event stream: the representation model shares an anchored node among its aliases, so building it is cheap,
/// but anything that walks the tree (<see cref="YamlToJson"/> for model.config) expands every alias, and a "billion
/// laughs" file of a few hundred bytes expands to gigabytes. One pass over the events gives what a full expansion would
/// produce — an alias counts its anchor's whole subtree each time it is used — without expanding anything, and stops
/// at the first cap passed. The same pass bounds nesting, which both the representation model and YamlToJson follow
/// by recursion (a file of 100,000 '[' would overflow the stack and kill the process).
/// </para>
/// Experiment files are a few kilobytes with a few hundred values; every cap is far above an honest one.
/// </summary>
public static class YamlBounds
{
    /// <summary>Bytes of an experiment file (and characters of its text).</summary>
    public const int MaxFileBytes = 1 << 20;
    public const int MaxAliases = 1_000;
    /// <summary>Scalars, mappings and sequences (keys included) after expanding every alias.</summary>
    public const int MaxNodes = 10_000;
    /// <summary>Scalar text after expanding every alias: no more than the largest file could hold written out.</summary>
    public const int MaxExpandedChars = MaxFileBytes;
    public const int MaxKeysPerMapping = 1_000;
    public const int MaxDepth = 64;

    /// <summary>Records the first cap <paramref name="yaml"/> passes in <paramref name="context"/>. Throws the parser's
    /// <see cref="YamlException"/> for malformed YAML, as loading would.</summary>
    internal static void Check(string yaml, LoadContext context) => new Walk(context).Run(yaml);

    sealed class Walk(LoadContext context)
    {
        /// <summary>An open mapping or sequence, with the totals when it started so that its expanded size is known
        /// when it ends (an anchored node's size is what each of its aliases adds).</summary>
        sealed class Frame(bool isMapping, string? anchor, long nodesAtStart, long charsAtStart)
        {
            public bool IsMapping { get; } = isMapping;
            public string? Anchor { get; } = anchor;
            public long NodesAtStart { get; } = nodesAtStart;
            public long CharsAtStart { get; } = charsAtStart;
            public bool AtKey { get; set; } = true;
            public string Key { get; set; } = "";
            public int Index { get; set; }
            public int Keys { get; set; }
        }

        readonly List<Frame> _open = [];
        readonly Dictionary<string, (long Nodes, long Chars)> _anchors = new(StringComparer.Ordinal);
        long _nodes, _chars;
        int _aliases;

        public void Run(string yaml)
        {
            var parser = new Parser(new StringReader(yaml));
            while (parser.MoveNext())
            {
                var ok = parser.Current switch
                {
                    DocumentStart => Reset(),
                    MappingStart m => Open(m, isMapping: true),
                    SequenceStart s => Open(s, isMapping: false),
                    MappingEnd or SequenceEnd => Close(),
                    Scalar s => Leaf(s, s.Anchor, 1, s.Value.Length, s.Value),
                    AnchorAlias a => Alias(a),
                    _ => true,
                };
                if (!ok) return;
            }
        }

        bool Reset()
        {
            _anchors.Clear(); // anchors belong to their document
            return true;
        }

        bool Open(NodeEvent node, bool isMapping)
        {
            if (!Enter(node, 1, 0)) return false;
            if (_open.Count >= MaxDepth)
                return Fail(node, $"nested more than {MaxDepth} levels deep (the limit for an experiment file)");
            _open.Add(new Frame(isMapping, node.Anchor.IsEmpty ? null : node.Anchor.Value, _nodes - 1, _chars));
            return true;
        }

        bool Close()
        {
            var frame = _open[^1];
            _open.RemoveAt(_open.Count - 1);
            if (frame.Anchor is { } anchor) _anchors[anchor] = (_nodes - frame.NodesAtStart, _chars - frame.CharsAtStart);
            Left("?");
            return true;
        }

        bool Alias(AnchorAlias alias)
        {
            var name = alias.Value.Value;
            if (++_aliases > MaxAliases)
                return Fail(alias, $"more than {MaxAliases} aliases (*{name}) (the limit for an experiment file)");
            if (!_anchors.TryGetValue(name, out var size))
                return Fail(alias, _open.Any(f => f.Anchor == name)
                    ? $"alias *{name} is inside the node it names; a recursive alias cannot be expanded"
                    : $"alias *{name} has no anchor &{name} before it");
            return Leaf(alias, AnchorName.Empty, size.Nodes, size.Chars, "?");
        }

        bool Leaf(ParsingEvent node, AnchorName anchor, long nodes, long chars, string text)
        {
            if (!Enter(node, nodes, chars)) return false;
            if (!anchor.IsEmpty) _anchors[anchor.Value] = (nodes, chars);
            Left(text);
            return true;
        }

        /// <summary>Counts a node about to be read (its expanded size) and, in a mapping, the key it may be.</summary>
        bool Enter(ParsingEvent node, long nodes, long chars)
        {
            if (_open.Count > 0 && _open[^1] is { IsMapping: true, AtKey: true } mapping && ++mapping.Keys > MaxKeysPerMapping)
                return Fail(node, $"more than {MaxKeysPerMapping} keys in one mapping (the limit for an experiment file)");
            _nodes += nodes;
            _chars += chars;
            if (_nodes > MaxNodes)
                return Fail(node, _aliases == 0
                    ? $"more than {MaxNodes} keys and values in the file (the limit for an experiment file)"
                    : $"alias expansion would produce more than {MaxNodes} nodes (the limit for an experiment file); " +
                      "each alias counts the whole node it names, every time it is used");
            if (_chars > MaxExpandedChars)
                return Fail(node, $"alias expansion would produce more than {MaxExpandedChars} characters of text " +
                                  "(the limit for an experiment file); each alias counts the whole node it names, every time it is used");
            return true;
        }

        /// <summary>A node has been read: in a mapping it was the key (named <paramref name="text"/>) or its value.</summary>
        void Left(string text)
        {
            if (_open.Count == 0) return;
            var parent = _open[^1];
            if (!parent.IsMapping) parent.Index++;
            else if (parent.AtKey) (parent.AtKey, parent.Key) = (false, text);
            else parent.AtKey = true;
        }

        bool Fail(ParsingEvent node, string message)
        {
            var path = Path();
            context.Error(node.Start.Line, path.Length == 0 ? message : $"{path}: {message}");
            return false;
        }

        /// <summary>Where the walk is, as the loader names fields: <c>model.config.layers[2]</c>.</summary>
        string Path()
        {
            var path = new System.Text.StringBuilder();
            foreach (var frame in _open)
            {
                if (!frame.IsMapping) path.Append('[').Append(frame.Index).Append(']');
                else if (!frame.AtKey) path.Append(path.Length == 0 ? "" : ".").Append(frame.Key);
                else break; // reading a key: the mapping's own path names the place
            }
            return path.ToString();
        }
    }
}
