namespace RlhfActors.Training.Chat;

/// <summary>A chat template that cannot be parsed or rendered, or that called raise_exception (the message is the
/// template's own). Readers of data files add the file and line.</summary>
public sealed class ChatTemplateException(string message, Exception? inner = null) : Exception(message, inner);
