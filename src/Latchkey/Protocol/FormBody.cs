using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using Microsoft.Net.Http.Headers;

namespace Latchkey.Protocol;

/// <summary>
/// A strict <c>application/x-www-form-urlencoded</c> parser (WHATWG URL §5.1) for the token endpoint. Unlike the
/// framework's form reader it refuses what RFC 6749 refuses: invalid UTF-8 (instead of silently replacing it) and
/// repeated parameters (§3.2), so a request can never mean two things.
/// </summary>
internal static class FormBody
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Reads and parses a request body: media type, size (also for chunked bodies), UTF-8, no repeats.</summary>
    public static async Task<(Dictionary<string, string>? Form, OAuthError? Error)> ReadAsync(HttpRequest http, int maxBytes, CancellationToken cancellationToken)
    {
        if (!IsUtf8Form(http.ContentType))
            return (null, OAuthError.InvalidRequest("The request body must be application/x-www-form-urlencoded (UTF-8)."));

        if (http.ContentLength > maxBytes)
            return (null, TooLarge(maxBytes));

        byte[]? body = await ReadBodyAsync(http.BodyReader, maxBytes, cancellationToken);
        if (body is null)
            return (null, TooLarge(maxBytes));

        Dictionary<string, string>? form = Parse(body, out OAuthError? error);
        return (form, error);
    }

    private const string FormMediaType = "application/x-www-form-urlencoded";

    /// <summary>The form media type, in UTF-8 if it names a charset. The bare type, what clients send, needs no parsing.</summary>
    private static bool IsUtf8Form(string? contentType) =>
        string.Equals(contentType, FormMediaType, StringComparison.OrdinalIgnoreCase) ||
        (MediaTypeHeaderValue.TryParse(contentType, out MediaTypeHeaderValue? type) &&
         type.MediaType.Equals(FormMediaType, StringComparison.OrdinalIgnoreCase) &&
         (!type.Charset.HasValue || type.Charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase)));

    private static OAuthError TooLarge(int maxBytes) =>
        new(OAuthErrors.InvalidRequest, $"The request body is larger than {maxBytes} bytes.", StatusCodes.Status413PayloadTooLarge);

    /// <summary>Reads at most <paramref name="maxBytes"/>; null if the body is longer.</summary>
    private static async Task<byte[]?> ReadBodyAsync(PipeReader reader, int maxBytes, CancellationToken cancellationToken)
    {
        while (true)
        {
            ReadResult read = await reader.ReadAsync(cancellationToken);
            ReadOnlySequence<byte> buffer = read.Buffer;
            if (buffer.Length > maxBytes)
            {
                reader.AdvanceTo(buffer.Start, buffer.End);
                return null;
            }

            if (read.IsCompleted)
            {
                byte[] body = buffer.ToArray();
                reader.AdvanceTo(buffer.End);
                return body;
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>Parses the body, or returns the §5.2 error describing what is wrong with it.</summary>
    public static Dictionary<string, string>? Parse(ReadOnlySpan<byte> body, out OAuthError? error)
    {
        error = null;
        // Empty values are kept until the end, so that a name seen twice is refused even when one of them was empty.
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        bool anyEmpty = false;
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

            if (!result.TryAdd(name, value))
            {
                error = OAuthError.InvalidRequest($"The parameter '{Printable(name)}' is repeated.");
                return null;
            }

            anyEmpty |= value.Length == 0;
        }

        // RFC 6749 §3.2: a parameter sent without a value is treated as if it were omitted.
        if (anyEmpty)
        {
            foreach (KeyValuePair<string, string> parameter in result)
            {
                if (parameter.Value.Length == 0)
                    result.Remove(parameter.Key);
            }
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
