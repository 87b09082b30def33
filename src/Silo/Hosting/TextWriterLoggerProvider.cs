using Microsoft.Extensions.Logging;

namespace RlhfActors.Silo.Hosting;

/// <summary>
/// Writes log lines to a <see cref="TextWriter"/> (the CLI's stderr). The embedded silo logs here instead of the
/// console logger so that stdout stays clean for <c>--json</c> and tests can capture what a run logged.
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
            if (exception is not null) writer.WriteLine(exception.ToString());
            writer.Flush();
        }
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
