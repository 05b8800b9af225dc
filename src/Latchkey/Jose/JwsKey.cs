using System.Security.Cryptography;
using System.Text;

namespace Latchkey.Jose;

/// <summary>
/// A key that signs and verifies JWS signatures for one family of algorithms.
/// The family is fixed by the key's type, so an RSA or EC public key can never be
/// used as an HMAC secret (the "algorithm confusion" attack, RFC 8725 §2.1).
/// </summary>
internal abstract class JwsKey
{
    /// <summary>The key id published in the JWKS and written in the <c>kid</c> header, if any.</summary>
    public string? KeyId { get; init; }

    public abstract bool Supports(string algorithm);

    public abstract byte[] Sign(string algorithm, ReadOnlySpan<byte> signingInput);

    public abstract bool Verify(string algorithm, ReadOnlySpan<byte> signingInput, ReadOnlySpan<byte> signature);

    internal static HashAlgorithmName HashFor(string algorithm) => algorithm[^3..] switch
    {
        "256" => HashAlgorithmName.SHA256,
        "384" => HashAlgorithmName.SHA384,
        "512" => HashAlgorithmName.SHA512,
        _ => throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, "Unknown hash size."),
    };
}

/// <summary>HS256/384/512 (RFC 7518 §3.2).</summary>
internal sealed class HmacJwsKey : JwsKey
{
    private readonly byte[] _secret;

    /// <param name="secret">The shared secret.</param>
    /// <param name="allowShortKey">
    /// RFC 7518 §3.2 requires a key at least as long as the hash output. Only tutorials and
    /// legacy interop may pass <c>true</c>: a short secret can be brute-forced offline from any one token.
    /// </param>
    public HmacJwsKey(byte[] secret, bool allowShortKey)
    {
        if (secret.Length == 0)
            throw new JwtKeyException("The HMAC secret is empty.");
        if (LooksAsymmetric(secret))
            // PyJWT refuses the same: a PEM public key used as an HMAC secret is how algorithm confusion is exploited.
            throw new JwtKeyException("The HMAC secret looks like a PEM or SSH key. Use the key object itself, not its text, for RS/PS/ES algorithms.");
        _secret = secret;
        AllowShortKey = allowShortKey;
    }

    public bool AllowShortKey { get; }

    public int Length => _secret.Length;

    public static HmacJwsKey FromString(string secret, bool allowShortKey) => new(Encoding.UTF8.GetBytes(secret), allowShortKey);

    public override bool Supports(string algorithm) => JwtAlgorithms.IsHmac(algorithm);

    /// <summary>Throws unless the secret is long enough for <paramref name="algorithm"/> (or the caller opted out).</summary>
    public void EnsureLongEnough(string algorithm)
    {
        int required = MinimumBytes(algorithm);
        if (_secret.Length < required && !AllowShortKey)
            throw new JwtKeyException(
                $"The HMAC secret is {_secret.Length} bytes; {algorithm} needs at least {required} bytes (RFC 7518 §3.2). " +
                "Use a random secret of that length, or pass allowShortHmacKey: true to accept the risk explicitly.");
    }

    public static int MinimumBytes(string algorithm) => HashFor(algorithm).Name switch
    {
        "SHA256" => 32,
        "SHA384" => 48,
        _ => 64,
    };

    public override byte[] Sign(string algorithm, ReadOnlySpan<byte> signingInput)
    {
        EnsureLongEnough(algorithm);
        return algorithm switch
        {
            JwtAlgorithms.HS256 => HMACSHA256.HashData(_secret, signingInput),
            JwtAlgorithms.HS384 => HMACSHA384.HashData(_secret, signingInput),
            JwtAlgorithms.HS512 => HMACSHA512.HashData(_secret, signingInput),
            _ => throw new JwtAlgorithmNotAllowedException(algorithm),
        };
    }

    public override bool Verify(string algorithm, ReadOnlySpan<byte> signingInput, ReadOnlySpan<byte> signature)
    {
        EnsureLongEnough(algorithm);
        byte[] expected = Sign(algorithm, signingInput);
        // Constant time: a timing difference would let an attacker forge a MAC byte by byte.
        return CryptographicOperations.FixedTimeEquals(expected, signature);
    }

    private static bool LooksAsymmetric(byte[] secret)
    {
        ReadOnlySpan<byte> s = secret;
        return s.StartsWith("-----BEGIN"u8) || s.StartsWith("ssh-rsa "u8) || s.StartsWith("ssh-ed25519 "u8) || s.StartsWith("ecdsa-sha2-"u8);
    }
}

/// <summary>ES256/384/512 (RFC 7518 §3.4): signatures are the fixed-length R || S, not DER.</summary>
internal sealed class EcdsaJwsKey(ECDsa key) : JwsKey
{
    public ECDsa Key { get; } = key;

    public string Algorithm { get; } = AlgorithmFor(key);

    // The curve itself, not its size, decides: secp256k1 and brainpoolP256r1 are 256-bit too, but ES256 is P-256 only.
    private static string AlgorithmFor(ECDsa key)
    {
        Oid? curve = key.ExportParameters(includePrivateParameters: false).Curve.Oid;
        return (curve?.Value, curve?.FriendlyName) switch
        {
            ("1.2.840.10045.3.1.7", _) or (null, "nistP256" or "ECDSA_P256" or "prime256v1" or "secp256r1") => JwtAlgorithms.ES256,
            ("1.3.132.0.34", _) or (null, "nistP384" or "ECDSA_P384" or "secp384r1") => JwtAlgorithms.ES384,
            ("1.3.132.0.35", _) or (null, "nistP521" or "ECDSA_P521" or "secp521r1") => JwtAlgorithms.ES512,
            _ => throw new JwtKeyException(
                $"EC keys must be on P-256, P-384 or P-521; this one is on {curve?.FriendlyName ?? curve?.Value ?? "an unnamed curve"}."),
        };
    }

    // The curve is bound to the algorithm (RFC 7518 §3.4): ES256 only with P-256, and so on.
    public override bool Supports(string algorithm) => algorithm == Algorithm;

    public override byte[] Sign(string algorithm, ReadOnlySpan<byte> signingInput) =>
        Key.SignData(signingInput, HashFor(algorithm), DSASignatureFormat.IeeeP1363FixedFieldConcatenation);

    public override bool Verify(string algorithm, ReadOnlySpan<byte> signingInput, ReadOnlySpan<byte> signature) =>
        signature.Length == 2 * ((Key.KeySize + 7) / 8) &&
        Key.VerifyData(signingInput, signature, HashFor(algorithm), DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
}

/// <summary>RS256/384/512 (PKCS#1 v1.5) and PS256/384/512 (PSS), RFC 7518 §3.3 and §3.5.</summary>
internal sealed class RsaJwsKey : JwsKey
{
    /// <summary>RFC 7518 §3.3: a key of 2048 bits or larger MUST be used.</summary>
    public const int MinimumBits = 2048;

    public RsaJwsKey(RSA key)
    {
        if (key.KeySize < MinimumBits)
            throw new JwtKeyException($"RSA keys must have at least {MinimumBits} bits (RFC 7518 §3.3); this one has {key.KeySize}.");
        Key = key;
    }

    public RSA Key { get; }

    public override bool Supports(string algorithm) => algorithm[0] is 'R' or 'P' && algorithm[1] == 'S';

    public override byte[] Sign(string algorithm, ReadOnlySpan<byte> signingInput) =>
        Key.SignData(signingInput.ToArray(), HashFor(algorithm), Padding(algorithm));

    public override bool Verify(string algorithm, ReadOnlySpan<byte> signingInput, ReadOnlySpan<byte> signature) =>
        signature.Length == Key.KeySize / 8 && Key.VerifyData(signingInput, signature, HashFor(algorithm), Padding(algorithm));

    private static RSASignaturePadding Padding(string algorithm) =>
        algorithm[0] == 'P' ? RSASignaturePadding.Pss : RSASignaturePadding.Pkcs1;
}

/// <summary>
/// EdDSA over Ed25519 (RFC 8037 §3.1), through NSec (libsodium): .NET has no Ed25519 of its own. Signatures are
/// deterministic and 64 bytes; public keys 32.
/// </summary>
internal sealed class EdDsaJwsKey : JwsKey
{
    private static readonly NSec.Cryptography.SignatureAlgorithm Ed25519 = NSec.Cryptography.SignatureAlgorithm.Ed25519;

    public EdDsaJwsKey(NSec.Cryptography.Key privateKey)
    {
        if (privateKey.Algorithm != Ed25519)
            throw new JwtKeyException("EdDSA keys must be Ed25519 keys.");
        PrivateKey = privateKey;
        PublicKey = privateKey.PublicKey;
    }

    public EdDsaJwsKey(NSec.Cryptography.PublicKey publicKey)
    {
        if (publicKey.Algorithm != Ed25519)
            throw new JwtKeyException("EdDSA keys must be Ed25519 keys.");
        PublicKey = publicKey;
    }

    public NSec.Cryptography.Key? PrivateKey { get; }

    public NSec.Cryptography.PublicKey PublicKey { get; }

    public override bool Supports(string algorithm) => algorithm == JwtAlgorithms.EdDSA;

    public override byte[] Sign(string algorithm, ReadOnlySpan<byte> signingInput) =>
        PrivateKey is null
            ? throw new JwtKeyException("This Ed25519 key is public only: signing needs the private key.")
            : Ed25519.Sign(PrivateKey, signingInput);

    public override bool Verify(string algorithm, ReadOnlySpan<byte> signingInput, ReadOnlySpan<byte> signature) =>
        signature.Length == Ed25519.SignatureSize && Ed25519.Verify(PublicKey, signingInput, signature);

    /// <summary>A new Ed25519 key whose private part can be exported (to be stored encrypted).</summary>
    public static NSec.Cryptography.Key Create() =>
        NSec.Cryptography.Key.Create(Ed25519, new NSec.Cryptography.KeyCreationParameters
        {
            ExportPolicy = NSec.Cryptography.KeyExportPolicies.AllowPlaintextExport,
        });

    /// <summary>Imports a PKCS#8 Ed25519 private key.</summary>
    public static NSec.Cryptography.Key ImportPkcs8(byte[] pkcs8) =>
        NSec.Cryptography.Key.Import(Ed25519, pkcs8, NSec.Cryptography.KeyBlobFormat.PkixPrivateKey, new NSec.Cryptography.KeyCreationParameters
        {
            ExportPolicy = NSec.Cryptography.KeyExportPolicies.AllowPlaintextExport,
        });

    public static NSec.Cryptography.PublicKey ImportRawPublic(byte[] raw) =>
        NSec.Cryptography.PublicKey.Import(Ed25519, raw, NSec.Cryptography.KeyBlobFormat.RawPublicKey);
}
