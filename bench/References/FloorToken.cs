using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Unicode;

namespace Latchkey.Bench.References;

/// <summary>
/// A compact JWS of the seed tutorial's claims, <c>{"sub":"user123","role":"admin","iat":…,"exp":…}</c> (exp 30 minutes
/// ahead, as in its quiz), made with one raw primitive and nothing else: base64url(header) '.' base64url(payload) '.'
/// base64url(signature), on the stack. What a token costs when nothing but the signature is paid for.
/// </summary>
internal abstract class FloorToken
{
    private readonly byte[] _encodedHeader;

    protected FloorToken(string algorithm) =>
        _encodedHeader = Encoding.ASCII.GetBytes(Base64Url.EncodeToString(Encoding.UTF8.GetBytes($"{{\"alg\":\"{algorithm}\",\"typ\":\"JWT\"}}")));

    /// <summary>The floor for <paramref name="mode"/>, or the constant ceiling, or null for an unknown mode.</summary>
    public static FloorToken? For(string mode) => mode switch
    {
        "constant" => new Constant(new Hs256().Next()),
        "hs256" => new Hs256(),
        "es256" => new Es256(),
        "eddsa" => new EdDsa(),
        "rs256" => new Rs256(),
        _ => null,
    };

    /// <summary>The largest signature this primitive makes.</summary>
    protected abstract int MaxSignatureBytes { get; }

    /// <summary>Signs <paramref name="input"/> into <paramref name="signature"/> and returns the bytes written.</summary>
    public abstract int Sign(ReadOnlySpan<byte> input, Span<byte> signature);

    /// <summary>A token signed now.</summary>
    public virtual string Next()
    {
        long now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        Span<byte> payload = stackalloc byte[128];
        Utf8.TryWrite(payload, $"{{\"sub\":\"user123\",\"role\":\"admin\",\"iat\":{now},\"exp\":{now + 1800}}}", out int payloadBytes);

        Span<byte> input = stackalloc byte[_encodedHeader.Length + 1 + Base64Url.GetEncodedLength(payloadBytes)];
        _encodedHeader.CopyTo(input);
        input[_encodedHeader.Length] = (byte)'.';
        Base64Url.EncodeToUtf8(payload[..payloadBytes], input[(_encodedHeader.Length + 1)..]);

        Span<byte> signature = stackalloc byte[MaxSignatureBytes];
        int signatureBytes = Sign(input, signature);

        Span<char> chars = stackalloc char[input.Length + 1 + Base64Url.GetEncodedLength(signatureBytes)];
        Encoding.ASCII.GetChars(input, chars);
        chars[input.Length] = '.';
        Base64Url.EncodeToChars(signature[..signatureBytes], chars[(input.Length + 1)..]);
        return new string(chars);
    }

    /// <summary>The ceiling: one token made at start, returned every time.</summary>
    private sealed class Constant(string token) : FloorToken("HS256")
    {
        protected override int MaxSignatureBytes => 0;

        public override int Sign(ReadOnlySpan<byte> input, Span<byte> signature) => 0;

        public override string Next() => token;
    }

    internal sealed class Hs256() : FloorToken("HS256")
    {
        private readonly byte[] _secret = RandomNumberGenerator.GetBytes(32);

        protected override int MaxSignatureBytes => HMACSHA256.HashSizeInBytes;

        public override int Sign(ReadOnlySpan<byte> input, Span<byte> signature) => HMACSHA256.HashData(_secret, input, signature);

        public bool Verify(ReadOnlySpan<byte> input, ReadOnlySpan<byte> signature)
        {
            Span<byte> expected = stackalloc byte[HMACSHA256.HashSizeInBytes];
            HMACSHA256.HashData(_secret, input, expected);
            return CryptographicOperations.FixedTimeEquals(expected, signature);
        }
    }

    internal sealed class Es256() : FloorToken("ES256")
    {
        private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        protected override int MaxSignatureBytes => 64;

        public override int Sign(ReadOnlySpan<byte> input, Span<byte> signature) =>
            _key.SignData(input, signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);

        public bool Verify(ReadOnlySpan<byte> input, ReadOnlySpan<byte> signature) =>
            _key.VerifyData(input, signature, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
    }

    internal sealed class EdDsa() : FloorToken("EdDSA")
    {
        private static readonly NSec.Cryptography.SignatureAlgorithm Ed25519 = NSec.Cryptography.SignatureAlgorithm.Ed25519;
        private readonly NSec.Cryptography.Key _key = NSec.Cryptography.Key.Create(Ed25519);

        protected override int MaxSignatureBytes => Ed25519.SignatureSize;

        public override int Sign(ReadOnlySpan<byte> input, Span<byte> signature)
        {
            Ed25519.Sign(_key, input, signature[..Ed25519.SignatureSize]);
            return Ed25519.SignatureSize;
        }

        public bool Verify(ReadOnlySpan<byte> input, ReadOnlySpan<byte> signature) => Ed25519.Verify(_key.PublicKey, input, signature);
    }

    internal sealed class Rs256() : FloorToken("RS256")
    {
        private readonly RSA _key = RSA.Create(2048);

        protected override int MaxSignatureBytes => 256;

        public override int Sign(ReadOnlySpan<byte> input, Span<byte> signature) =>
            _key.SignData(input, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);

        public bool Verify(ReadOnlySpan<byte> input, ReadOnlySpan<byte> signature) =>
            _key.VerifyData(input, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
    }
}
