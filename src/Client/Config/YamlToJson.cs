using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace RlhfActors.Client.Config;

/// <summary>
/// Writes a YAML subtree as JSON, typing unquoted scalars the way YAML's core schema does (null, true/false,
/// integers, floats; anything else, and anything quoted, is a string). Used for <c>model.config</c>, which is
/// Hugging Face config.json written in YAML.
/// </summary>
static partial class YamlToJson
{
    public static string Convert(YamlNode node)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
            Write(node, writer);
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    static void Write(YamlNode node, Utf8JsonWriter writer)
    {
        switch (node)
        {
            case YamlMappingNode mapping:
                writer.WriteStartObject();
                foreach (var (key, value) in mapping.Children)
                {
                    writer.WritePropertyName(((YamlScalarNode)key).Value ?? "");
                    Write(value, writer);
                }
                writer.WriteEndObject();
                break;
            case YamlSequenceNode sequence:
                writer.WriteStartArray();
                foreach (var item in sequence.Children) Write(item, writer);
                writer.WriteEndArray();
                break;
            case YamlScalarNode scalar:
                WriteScalar(scalar, writer);
                break;
            default:
                throw new InvalidDataException($"line {node.Start.Line}: unsupported YAML node");
        }
    }

    static void WriteScalar(YamlScalarNode scalar, Utf8JsonWriter writer)
    {
        var text = scalar.Value ?? "";
        if (scalar.Style is not ScalarStyle.Plain)
        {
            writer.WriteStringValue(text);
            return;
        }
        if (MappingReader.IsNull(scalar)) writer.WriteNullValue();
        else if (text is "true" or "True" or "TRUE") writer.WriteBooleanValue(true);
        else if (text is "false" or "False" or "FALSE") writer.WriteBooleanValue(false);
        else if (IntegerPattern().IsMatch(text) && long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var integer))
            writer.WriteNumberValue(integer);
        else if (FloatPattern().IsMatch(text) && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var real))
            writer.WriteNumberValue(real);
        else writer.WriteStringValue(text);
    }

    [GeneratedRegex(@"^[-+]?[0-9]+$")]
    private static partial Regex IntegerPattern();

    [GeneratedRegex(@"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")]
    private static partial Regex FloatPattern();
}
