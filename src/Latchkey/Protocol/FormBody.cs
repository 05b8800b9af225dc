using System.Text;

namespace Latchkey.Protocol;

/// <summary>
/// A strict <c>application/x-www-form-urlencoded</c> parser (WHATWG URL §5.1) for the token endpoint. Unlike the
/// framework's form reader it refuses what RFC 6749 refuses: invalid UTF-8 (instead of silently replacing it) and
/// repeated parameters (§3.2), so a request can never mean two things.
/// </summary>
internal static class FormBody
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Parses the body, or returns the §5.2 error describing what is wrong with it.</summary>
    public static Dictionary<string, string>? Parse(ReadOnlySpan<byte> body, out OAuthError? error)
    {
        error = null;
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        while (!body.IsEmpty)
        {
            int amp = body.IndexOf((byte)'&');
            ReadOnlySpan<byte> pair = amp < 0 ? body : body[..amp];
            body = amp < 0 ? [] : body[(amp + 1)..];
            if (pair.IsEmpty)
                continue;

            int eq = pair.IndexOf((byte)'=');
            string? name = Decode(eq < 0 ? pair : pair[..eq]);
            string? value = Decode(eq < 0 ? [] : pair[(eq + 1)..]);
            if (name is null || value is null)
            {
                error = OAuthError.InvalidRequest("The request body is not valid UTF-8 form encoding.");
                return null;
            }

            if (!seen.Add(name))
            {
                error = OAuthError.InvalidRequest($"The parameter '{Printable(name)}' is repeated.");
                return null;
            }

            // RFC 6749 §3.2: a parameter sent without a value is treated as if it were omitted.
            if (value.Length > 0)
                result[name] = value;
        }

        return result;
    }

    /// <summary>Percent-decodes and '+'-decodes one name or value, then decodes it as strict UTF-8; null if invalid.</summary>
    private static string? Decode(ReadOnlySpan<byte> encoded)
    {
        if (encoded.IsEmpty)
            return string.Empty;
        Span<byte> bytes = encoded.Length <= 1024 ? stackalloc byte[encoded.Length] : new byte[encoded.Length];
        int length = 0;
        for (int i = 0; i < encoded.Length; i++)
        {
            byte b = encoded[i];
            if (b == '+')
            {
                bytes[length++] = (byte)' ';
            }
            else if (b == '%')
            {
                if (i + 2 >= encoded.Length || !IsHex(encoded[i + 1]) || !IsHex(encoded[i + 2]))
                    return null;
                bytes[length++] = (byte)(HexValue(encoded[i + 1]) << 4 | HexValue(encoded[i + 2]));
                i += 2;
            }
            else
            {
                bytes[length++] = b;
            }
        }

        try
        {
            return StrictUtf8.GetString(bytes[..length]);
        }
        catch (DecoderFallbackException)
        {
            return null;
        }
    }

    private static bool IsHex(byte b) => char.IsAsciiHexDigit((char)b);

    private static int HexValue(byte b) => b <= '9' ? b - '0' : (b | 0x20) - 'a' + 10;

    private static string Printable(string name) =>
        name.Length <= 40 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-') ? name : "(unprintable)";
}
