using System.Buffers.Text;
using System.Text;
using System.Text.Json;

namespace Latchkey.Jose;

/// <summary>A compact JWS split and checked for shape, before any key is chosen.</summary>
internal sealed class ParsedJws : IDisposable
{
    public required string Algorithm { get; init; }
    public required string? KeyId { get; init; }
    public required string? Type { get; init; }
    public required JsonDocument Header { get; init; }
    public required JsonDocument Payload { get; init; }
    public required byte[] SigningInput { get; init; }
    public required byte[] Signature { get; init; }

    public JsonElement Claims => Payload.RootElement;

    public void Dispose()
    {
        Header.Dispose();
        Payload.Dispose();
    }
}

/// <summary>
/// Parses compact JWS strictly (RFC 7515 §7.1, RFC 8725). Everything that can be refused
/// before touching a key is refused here, so the cheapest checks run first.
/// </summary>
internal static class JwsReader
{
    /// <summary>Tokens larger than this are refused unread (RFC 8725 §3.x: bound the work an attacker can cause).</summary>
    public const int DefaultMaxLength = 8 * 1024;

    // .NET 10: duplicate member names are an error (RFC 7515 §5.2 requires rejecting or last-wins;
    // we reject, so a header can never mean two things to two parsers).
    private static readonly JsonDocumentOptions StrictJson = new() { AllowDuplicateProperties = false, MaxDepth = 32 };

    private static readonly HashSet<string> EmbeddedKeyHeaders = ["jwk", "jku", "x5u", "x5c"];

    public static ParsedJws Read(string token, int maxLength, bool rejectEmbeddedKeys)
    {
        ArgumentNullException.ThrowIfNull(token);
        if (token.Length > maxLength)
            throw new JwtException(JwtFailure.TooLarge, $"The token is longer than {maxLength} characters.");

        int firstDot = token.IndexOf('.');
        int secondDot = firstDot < 0 ? -1 : token.IndexOf('.', firstDot + 1);
        if (firstDot <= 0 || secondDot < 0 || token.IndexOf('.', secondDot + 1) >= 0)
            throw new JwtMalformedException("A JWT has exactly three dot-separated parts.");

        byte[] headerBytes = DecodePart(token.AsSpan(0, firstDot), "header");
        byte[] payloadBytes = DecodePart(token.AsSpan(firstDot + 1, secondDot - firstDot - 1), "payload");
        byte[] signature = DecodePart(token.AsSpan(secondDot + 1), "signature");

        JsonDocument header = ParseObject(headerBytes, "header");
        JsonDocument? payload = null;
        try
        {
            string alg = ReadHeader(header.RootElement, rejectEmbeddedKeys, out string? kid, out string? typ);
            // Checked after the header, so that an unsecured "header.payload." token is named for what it is: alg none.
            if (signature.Length == 0)
                throw new JwtMalformedException("The token has no signature.");
            payload = ParseObject(payloadBytes, "payload");
            CheckTimeClaimsAreNumbers(payload.RootElement);
            return new ParsedJws
            {
                Algorithm = alg,
                KeyId = kid,
                Type = typ,
                Header = header,
                Payload = payload,
                SigningInput = Encoding.ASCII.GetBytes(token, 0, secondDot),
                Signature = signature,
            };
        }
        catch
        {
            header.Dispose();
            payload?.Dispose();
            throw;
        }
    }


    private static string ReadHeader(JsonElement header, bool rejectEmbeddedKeys, out string? kid, out string? typ)
    {
        kid = null;
        typ = null;
        string? alg = null;
        foreach (JsonProperty p in header.EnumerateObject())
        {
            switch (p.Name)
            {
                case "alg":
                    alg = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString() : throw new JwtMalformedException("The 'alg' header must be a string.");
                    break;
                case "kid":
                    kid = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString() : throw new JwtMalformedException("The 'kid' header must be a string.");
                    break;
                case "typ":
                    typ = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString() : throw new JwtMalformedException("The 'typ' header must be a string.");
                    break;
                case "crit":
                    // RFC 7515 §4.1.11: a recipient MUST reject a token whose crit names an extension it does not
                    // understand. Latchkey understands none, so any crit is refused.
                    throw new JwtUnsupportedHeaderException(JwtFailure.UnsupportedHeader, "The token has a 'crit' header naming extensions that are not supported.");
                case "b64":
                    // RFC 7797 unencoded payloads change what is signed; never accept them.
                    throw new JwtUnsupportedHeaderException(JwtFailure.UnsupportedHeader, "The 'b64' header is not supported.");
                default:
                    if (rejectEmbeddedKeys && EmbeddedKeyHeaders.Contains(p.Name))
                        // RFC 8725 §3.10: a key that arrives with the token proves nothing about who signed it.
                        throw new JwtUnsupportedHeaderException(JwtFailure.UnsupportedHeader, $"The '{p.Name}' header is not trusted.");
                    break;
            }
        }

        if (alg is null)
            throw new JwtMalformedException("The token has no 'alg' header.");
        if (alg.Equals("none", StringComparison.OrdinalIgnoreCase))
            // RFC 8725 §3.1: unsecured JWTs are never accepted, whatever the letter case.
            throw new JwtAlgorithmNotAllowedException(alg);
        return alg;
    }

    private static void CheckTimeClaimsAreNumbers(JsonElement claims)
    {
        foreach (string name in (ReadOnlySpan<string>)["exp", "nbf", "iat"])
        {
            // A number too large for a double (1e400) would read as infinity: a token that never expires.
            if (claims.TryGetProperty(name, out JsonElement value) &&
                (value.ValueKind != JsonValueKind.Number || !value.TryGetDouble(out double seconds) || !double.IsFinite(seconds)))
                throw new JwtMalformedException($"The '{name}' claim must be a NumericDate (a JSON number).");
        }
    }

    private static byte[] DecodePart(ReadOnlySpan<char> part, string name)
    {
        // Base64Url decoders skip white space and accept padding; JWS allows neither (RFC 7515 §2).
        foreach (char c in part)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
                throw new JwtMalformedException($"The token's {name} is not base64url.");
        }

        try
        {
            byte[] bytes = Base64Url.DecodeFromChars(part);
            // Refuse non-canonical encodings (stray bits in the last character), so one token has one spelling.
            if (!part.SequenceEqual(Base64Url.EncodeToString(bytes)))
                throw new JwtMalformedException($"The token's {name} is not canonical base64url.");
            return bytes;
        }
        catch (FormatException)
        {
            throw new JwtMalformedException($"The token's {name} is not base64url.");
        }
    }

    private static JsonDocument ParseObject(byte[] json, string name)
    {
        // RFC 7515 §5.2: header and payload are UTF-8. JsonDocument only checks string bytes when they are read,
        // so without this an invalid sequence escapes later as an InvalidOperationException, not a JwtException.
        if (!System.Text.Unicode.Utf8.IsValid(json))
            throw new JwtMalformedException($"The token's {name} is not valid UTF-8.");

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, StrictJson);
        }
        catch (JsonException)
        {
            throw new JwtMalformedException($"The token's {name} is not a single JSON object (or it repeats a member name).");
        }

        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            document.Dispose();
            throw new JwtMalformedException($"The token's {name} is not a JSON object.");
        }

        return document;
    }
}
