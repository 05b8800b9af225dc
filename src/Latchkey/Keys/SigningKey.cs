using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Latchkey.Jose;
using Latchkey.Storage;

namespace Latchkey.Keys;

/// <summary>A usable signing key: its id, algorithm and key material, and its public JWK (null for HMAC).</summary>
internal sealed record SigningKey(string KeyId, string Algorithm, JwsKey Key, string? PublicJwk)
{
    /// <summary>Makes a new key pair for <paramref name="algorithm"/> and its encrypted storage record.</summary>
    public static (SigningKey Key, SigningKeyRecord Record) Generate(string algorithm, KeyProtector protector, DateTimeOffset now, DateTimeOffset activatesAt)
    {
        object material = algorithm switch
        {
            JwtAlgorithms.ES256 => ECDsa.Create(ECCurve.NamedCurves.nistP256),
            JwtAlgorithms.ES384 => ECDsa.Create(ECCurve.NamedCurves.nistP384),
            JwtAlgorithms.ES512 => ECDsa.Create(ECCurve.NamedCurves.nistP521),
            JwtAlgorithms.EdDSA => EdDsaJwsKey.Create(),
            _ when algorithm[1] == 'S' && algorithm[0] is 'R' or 'P' => RSA.Create(RsaJwsKey.MinimumBits),
            _ => throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, "Only asymmetric keys are generated."),
        };
        string jwk = JsonWebKeys.PublicJwk(material, algorithm, out string kid);
        byte[] pkcs8 = material is NSec.Cryptography.Key ed
            ? ed.Export(NSec.Cryptography.KeyBlobFormat.PkixPrivateKey)
            : ((AsymmetricAlgorithm)material).ExportPkcs8PrivateKey();
        try
        {
            var record = new SigningKeyRecord(kid, algorithm, jwk, protector.Protect(pkcs8, kid), now, activatesAt, RetiredAt: null);
            return (new SigningKey(kid, algorithm, Wrap(material, kid), jwk), record);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(pkcs8);
        }
    }

    /// <summary>Decrypts a stored key, or returns null when the master key does not open it.</summary>
    public static SigningKey? Load(SigningKeyRecord record, KeyProtector protector)
    {
        byte[]? pkcs8 = protector.Unprotect(record.ProtectedPrivateKey, record.KeyId);
        if (pkcs8 is null)
            return null;
        try
        {
            object material;
            if (record.Algorithm == JwtAlgorithms.EdDSA)
            {
                material = EdDsaJwsKey.ImportPkcs8(pkcs8);
            }
            else
            {
                AsymmetricAlgorithm asymmetric = record.Algorithm[0] == 'E' ? ECDsa.Create() : RSA.Create();
                asymmetric.ImportPkcs8PrivateKey(pkcs8, out _);
                material = asymmetric;
            }

            return new SigningKey(record.KeyId, record.Algorithm, Wrap(material, record.KeyId), record.PublicJwk);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(pkcs8);
        }
    }

    /// <summary>The key for HS* deployments: the configured secret, with a kid derived from it (never the secret itself).</summary>
    public static SigningKey FromHmacSecret(string secret, string algorithm)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(secret);
        string kid = "hs-" + Base64Url.EncodeToString(SHA256.HashData([.. "latchkey-kid:"u8, .. bytes])[..9]);
        return new SigningKey(kid, algorithm, new HmacJwsKey(bytes, allowShortKey: false) { KeyId = kid }, PublicJwk: null);
    }

    private static JwsKey Wrap(object material, string kid) => material switch
    {
        NSec.Cryptography.Key ed => new EdDsaJwsKey(ed) { KeyId = kid },
        ECDsa ec => new EcdsaJwsKey(ec) { KeyId = kid },
        RSA rsa => new RsaJwsKey(rsa) { KeyId = kid },
        _ => throw new NotSupportedException(material.GetType().Name),
    };
}
