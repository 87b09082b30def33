namespace RlhfActors.Client;

/// <summary>Where a command writes, so tests can run the CLI in-process and read what it printed.</summary>
/// <param name="StdoutIsTerminal">True only when stdout is the real console and not redirected: then
/// <c>rlhf run</c> redraws one progress line in place.</param>
public sealed record CliContext(TextWriter Stdout, TextWriter Stderr, bool StdoutIsTerminal);
