namespace Latchkey;

/// <summary>Latchkey cannot start. The message says what is wrong and how to fix it, one problem per line.</summary>
public sealed class LatchkeyStartupException(string message) : Exception(message);
