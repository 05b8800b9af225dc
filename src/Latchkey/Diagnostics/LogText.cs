using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;

namespace Latchkey.Diagnostics;

/// <summary>
/// Makes a value safe to put into a log line or an audit row. Much of what Latchkey logs comes from the request
/// (<c>client_id</c>, <c>username</c>, <c>grant_type</c>, <c>scope</c>, error details that quote them), and a value
/// holding a line break could forge a whole second log entry ("log injection", CWE-117; OWASP Logging Cheat Sheet),
/// while an ESC could drive the terminal of whoever reads the log. So every control character, the Unicode line and
/// paragraph separators and the bidirectional overrides (which reorder what a reader sees) become visible escapes
/// (<c>\n</c>, <c>\u001B</c>), and the result is capped at <see cref="MaxLength"/> characters, so one request cannot
/// fill the log. Other characters, including non-ASCII letters and emoji, are kept as they are. Backslashes are kept
/// too: paths and <c>DOMAIN\user</c> stay readable, at the cost that a literal <c>\n</c> typed by a client looks like an
/// escaped line break, which forges nothing.
/// </summary>
internal static class LogText
{
    /// <summary>The longest value written, in characters, before the <see cref="Ellipsis"/>.</summary>
    public const int MaxLength = 200;

    /// <summary>Appended to a value cut at <see cref="MaxLength"/>.</summary>
    public const char Ellipsis = '…';

    // C0 controls, DEL and C1 controls (NEL U+0085 among them), the line and paragraph separators, and the
    // bidirectional marks, embeddings, overrides and isolates (Unicode TR9; "Trojan Source", CVE-2021-42574).
    private static readonly SearchValues<char> Escaped = SearchValues.Create(
        "\u0000\u0001\u0002\u0003\u0004\u0005\u0006\u0007\u0008\u0009\u000A\u000B\u000C\u000D\u000E\u000F" +
        "\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001A\u001B\u001C\u001D\u001E\u001F\u007F" +
        "\u0080\u0081\u0082\u0083\u0084\u0085\u0086\u0087\u0088\u0089\u008A\u008B\u008C\u008D\u008E\u008F" +
        "\u0090\u0091\u0092\u0093\u0094\u0095\u0096\u0097\u0098\u0099\u009A\u009B\u009C\u009D\u009E\u009F" +
        "\u061C\u200E\u200F\u2028\u2029\u202A\u202B\u202C\u202D\u202E\u2066\u2067\u2068\u2069");

    /// <summary>
    /// <paramref name="value"/> with control characters escaped and cut at <paramref name="maxLength"/> characters; the
    /// very same string, without allocating, when there is nothing to change (the usual case).
    /// </summary>
    [return: NotNullIfNotNull(nameof(value))]
    public static string? Escape(string? value, int maxLength = MaxLength)
    {
        if (value is null || (value.Length <= maxLength && value.AsSpan().IndexOfAny(Escaped) < 0))
            return value;

        var text = new StringBuilder(Math.Min(value.Length, maxLength) + 8);
        for (int i = 0; i < value.Length;)
        {
            char c = value[i];
            string? escape = Escaped.Contains(c) ? EscapeOf(c) : null;
            // A surrogate pair is one character to a reader: never cut between its halves.
            int taken = escape is null && char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]) ? 2 : 1;
            if (text.Length + (escape?.Length ?? taken) > maxLength)
                return text.Append(Ellipsis).ToString();
            if (escape is not null)
                text.Append(escape);
            else
                text.Append(value, i, taken);
            i += taken;
        }

        return text.ToString();
    }

    private static string EscapeOf(char c) => c switch
    {
        '\n' => "\\n",
        '\r' => "\\r",
        '\t' => "\\t",
        _ => "\\u" + ((int)c).ToString("X4", CultureInfo.InvariantCulture),
    };
}
