using ScottPlot;
using SkiaSharp;

namespace RlhfActors.Training.Metrics;

/// <summary>
/// The one font the charts use: DejaVu Sans, embedded in this assembly. SkiaSharp's NoDependencies build finds no
/// font on a machine without /usr/share/fonts (a bare Debian CI image), and ScottPlot then draws no text at all: no
/// title, no tick labels, no legend. Embedding one font makes every chart readable everywhere and the same on every
/// machine. Registered with ScottPlot once, ahead of its system-font lookup, under its own family name.
/// </summary>
public static class ChartFont
{
    /// <summary>Not "DejaVu Sans", so a system copy of another version never stands in for the embedded one.</summary>
    public const string Family = "RlhfActors Chart Sans";

    static readonly Lazy<SKTypeface> Typeface = new(Load);
    static readonly Lock Gate = new();
    static bool _registered;

    /// <summary>Adds the resolver to ScottPlot's (process-wide) list, once.</summary>
    public static void Register()
    {
        lock (Gate)
        {
            if (_registered) return;
            Fonts.FontResolvers.Insert(0, new EmbeddedResolver());
            _registered = true;
        }
    }

    static SKTypeface Load()
    {
        using var stream = typeof(ChartFont).Assembly.GetManifestResourceStream("DejaVuSans.ttf")
            ?? throw new InvalidOperationException("the embedded chart font (DejaVuSans.ttf) is missing from the assembly");
        return SKTypeface.FromStream(stream) ?? throw new InvalidOperationException("the embedded chart font does not load");
    }

    /// <summary>The embedded regular face for every weight and slant: a bold title is drawn regular, never blank.</summary>
    sealed class EmbeddedResolver : IFontResolver
    {
        public SKTypeface? CreateTypeface(string fontName, FontWeight weight, FontSlant slant, FontSpacing width) =>
            fontName == Family ? Typeface.Value : null;

        public SKTypeface? CreateTypeface(string fontName, bool bold, bool italic) =>
            fontName == Family ? Typeface.Value : null;
    }
}
