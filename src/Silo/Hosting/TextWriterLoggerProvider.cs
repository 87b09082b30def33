using Microsoft.Extensions.Logging;

namespace RlhfActors.Silo.Hosting;

/// <summary>
/// Writes log lines to a <see cref="TextWriter"/> (the CLI's stderr). The embedded silo logs here instead of the
/// console logger so that stdout stays clean for <c>--json</c> and tests can capture what a run logged.
/// <para>An exception is written as one line, its type and message and those of its inner exceptions, unless the
/// level is Debug or lower: the CLI's stderr is a user's, and a runtime warning while a silo stops (the grain
/// directory's calls racing the shutdown, seen once in CI) must not read as a crash. A writer at Debug or lower
/// gets the whole exception with its stack trace.</para>
/// </summary>
public sealed class TextWriterLoggerProvider(TextWriter writer, LogLevel minLevel) : ILoggerProvider
{
    readonly Lock _gate = new();

    public ILogger CreateLogger(string categoryName) => new WriterLogger(this, categoryName);

    public void Dispose() { }

    bool IsEnabled(LogLevel level) => level != LogLevel.None && level >= minLevel;

    void Write(LogLevel level, string category, string message, Exception? exception)
    {
        var tag = level switch
        {
            LogLevel.Trace => "trce", LogLevel.Debug => "dbug", LogLevel.Information => "info",
            LogLevel.Warning => "warn", LogLevel.Error => "fail", _ => "crit",
        };
        lock (_gate)
        {
            writer.WriteLine($"{tag}: {category}: {message}");
            if (exception is not null) writer.WriteLine(minLevel <= LogLevel.Debug ? exception.ToString() : OneLine(exception));
            writer.Flush();
        }
    }

    static string OneLine(Exception exception)
    {
        var parts = new List<string>();
        for (var e = exception; e is not null && parts.Count < 4; e = e.InnerException)
            parts.Add($"{e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}");
        return "  " + string.Join(" ← ", parts);
    }

    sealed class WriterLogger(TextWriterLoggerProvider provider, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => provider.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (provider.IsEnabled(logLevel)) provider.Write(logLevel, category, formatter(state, exception), exception);
        }
    }
}
