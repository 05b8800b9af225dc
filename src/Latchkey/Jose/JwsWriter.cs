using System.Buffers;
using System.Buffers.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Latchkey.Jose;

/// <summary>Writes compact JWS: BASE64URL(header) '.' BASE64URL(payload) '.' BASE64URL(signature) (RFC 7515 §7.1).</summary>
internal static class JwsWriter
{
    /// <summary>
    /// JSON written into tokens. Non-ASCII is written as UTF-8 rather than \u escapes: a token is
    /// base64url-encoded, never embedded raw in HTML, so HTML-safe escaping only adds bytes.
    /// </summary>
    public static readonly JavaScriptEncoder Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping;

    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = Encoder, Indented = false };

    /// <summary>Writes the protected header. <c>alg</c> first and <c>typ</c> second, as python-jose and PyJWT do.</summary>
    public static byte[] Header(string algorithm, string? type, string? keyId, Action<Utf8JsonWriter>? writeExtraMembers = null)
    {
        var buffer = new ArrayBufferWriter<byte>(128);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteString("alg", algorithm);
            if (type is not null)
                writer.WriteString("typ", type);
            if (keyId is not null)
                writer.WriteString("kid", keyId);
            writeExtraMembers?.Invoke(writer);

            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    public static string Write(ReadOnlySpan<byte> header, ReadOnlySpan<byte> payload, JwsKey key, string algorithm)
    {
        int headerLength = Base64Url.GetEncodedLength(header.Length);
        int payloadLength = Base64Url.GetEncodedLength(payload.Length);
        byte[] signingInput = new byte[headerLength + 1 + payloadLength];
        Base64Url.EncodeToUtf8(header, signingInput);
        signingInput[headerLength] = (byte)'.';
        Base64Url.EncodeToUtf8(payload, signingInput.AsSpan(headerLength + 1));

        byte[] signature = key.Sign(algorithm, signingInput);

        int signatureLength = Base64Url.GetEncodedLength(signature.Length);
        return string.Create(signingInput.Length + 1 + signatureLength, (signingInput, signature), static (chars, state) =>
        {
            for (int i = 0; i < state.signingInput.Length; i++)
                chars[i] = (char)state.signingInput[i];
            chars[state.signingInput.Length] = '.';
            Base64Url.EncodeToChars(state.signature, chars[(state.signingInput.Length + 1)..]);
        });
    }
}
