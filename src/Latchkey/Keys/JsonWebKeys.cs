using System.Buffers;
using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Latchkey.Keys;

/// <summary>Public JWKs (RFC 7517, RFC 7518 §6) and their RFC 7638 thumbprints, which Latchkey uses as <c>kid</c>.</summary>
internal static class JsonWebKeys
{
    /// <summary>The public JWK of <paramref name="key"/> with <c>kid</c>, <c>use</c> and <c>alg</c>.</summary>
    public static string PublicJwk(object key, string algorithm, out string keyId)
    {
        (string Name, string Value)[] members = RequiredMembers(key);
        keyId = Thumbprint(members);
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            foreach ((string name, string value) in members)
                writer.WriteString(name, value);
            writer.WriteString("kid", keyId);
            writer.WriteString("use", "sig");
            writer.WriteString("alg", algorithm);
            writer.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>The verification key of a public JWK (EC or RSA), or null when the JWK is not one Latchkey can use.</summary>
    public static Jose.JwsKey? FromPublicJwk(string json)
    {
        try
        {
            using JsonDocument document = JsonDocument.Parse(json);
            JsonElement jwk = document.RootElement;
            string? kid = jwk.TryGetProperty("kid", out JsonElement k) ? k.GetString() : null;
            switch (jwk.GetProperty("kty").GetString())
            {
                case "EC":
                    ECCurve curve = jwk.GetProperty("crv").GetString() switch
                    {
                        "P-256" => ECCurve.NamedCurves.nistP256,
                        "P-384" => ECCurve.NamedCurves.nistP384,
                        "P-521" => ECCurve.NamedCurves.nistP521,
                        _ => throw new FormatException("unknown curve"),
                    };
                    var ec = ECDsa.Create(new ECParameters
                    {
                        Curve = curve,
                        Q = new ECPoint { X = Base64Url.DecodeFromChars(jwk.GetProperty("x").GetString()), Y = Base64Url.DecodeFromChars(jwk.GetProperty("y").GetString()) },
                    });
                    return new Jose.EcdsaJwsKey(ec) { KeyId = kid };
                case "OKP":
                    if (jwk.GetProperty("crv").GetString() != "Ed25519")
                        return null;
                    return new Jose.EdDsaJwsKey(Jose.EdDsaJwsKey.ImportRawPublic(Base64Url.DecodeFromChars(jwk.GetProperty("x").GetString()))) { KeyId = kid };
                case "RSA":
                    var rsa = RSA.Create(new RSAParameters
                    {
                        Modulus = Base64Url.DecodeFromChars(jwk.GetProperty("n").GetString()),
                        Exponent = Base64Url.DecodeFromChars(jwk.GetProperty("e").GetString()),
                    });
                    return new Jose.RsaJwsKey(rsa) { KeyId = kid };
                default:
                    return null;
            }
        }
        catch (Exception e) when (e is JsonException or FormatException or KeyNotFoundException or InvalidOperationException or CryptographicException or JwtException or ArgumentException)
        {
            return null;
        }
    }

    /// <summary>RFC 7638: SHA-256 over the required members in lexicographic order, no white space.</summary>
    private static string Thumbprint((string Name, string Value)[] members)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            foreach ((string name, string value) in members.OrderBy(m => m.Name, StringComparer.Ordinal))
                writer.WriteString(name, value);
            writer.WriteEndObject();
        }

        return Base64Url.EncodeToString(SHA256.HashData(buffer.WrittenSpan));
    }

    private static (string, string)[] RequiredMembers(object key)
    {
        switch (key)
        {
            case NSec.Cryptography.Key ed:
                // RFC 8037 §2: an OKP key; x is the raw 32-byte public key.
                return [("kty", "OKP"), ("crv", "Ed25519"), ("x", Base64Url.EncodeToString(ed.PublicKey.Export(NSec.Cryptography.KeyBlobFormat.RawPublicKey)))];
            case ECDsa ec:
                ECParameters p = ec.ExportParameters(includePrivateParameters: false);
                string curve = ec.KeySize switch { 256 => "P-256", 384 => "P-384", _ => "P-521" };
                // RFC 7518 §6.2.1.2: coordinates are the full fixed length of the curve (66 bytes on P-521).
                return [("kty", "EC"), ("crv", curve), ("x", Base64Url.EncodeToString(p.Q.X!)), ("y", Base64Url.EncodeToString(p.Q.Y!))];
            case RSA rsa:
                RSAParameters r = rsa.ExportParameters(includePrivateParameters: false);
                return [("kty", "RSA"), ("n", Base64Url.EncodeToString(r.Modulus!)), ("e", Base64Url.EncodeToString(r.Exponent!))];
            default:
                throw new NotSupportedException($"No JWK form for {key.GetType().Name}.");
        }
    }
}
