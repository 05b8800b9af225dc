using System.Buffers.Text;
using System.Text;
using Latchkey.Jose;
using Latchkey.Keys;
using NSec.Cryptography;

namespace Latchkey.Tests;

/// <summary>EdDSA (Ed25519, RFC 8037), checked against the RFC's own test vectors.</summary>
public sealed class JwtEdDsaTests
{
    // RFC 8037 Appendix A.1: the example Ed25519 key.
    private const string D = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
    private const string X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

    private static Key RfcKey() => Key.Import(SignatureAlgorithm.Ed25519, Base64Url.DecodeFromChars(D), KeyBlobFormat.RawPrivateKey,
        new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport });

    [Fact]
    public void Sign_Rfc8037A4_ProducesTheRfcsJws()
    {
        using Key key = RfcKey();

        string jws = JwsWriter.Write("""{"alg":"EdDSA"}"""u8, "Example of Ed25519 signing"u8, new EdDsaJwsKey(key), "EdDSA");

        Assert.Equal("eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc." +
            "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg", jws);
    }

    [Fact]
    public void PublicJwk_Rfc8037A3_HasTheRfcsThumbprintAsKid()
    {
        using Key key = RfcKey();

        string jwk = JsonWebKeys.PublicJwk(key, "EdDSA", out string kid);

        Assert.Equal("kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k", kid);
        Assert.Contains($"\"x\":\"{X}\"", jwk);
        Assert.Contains("\"kty\":\"OKP\"", jwk);
        Assert.DoesNotContain("\"d\"", jwk);
    }

    [Fact]
    public void EncodeDecode_RoundTrip_AndTamperingIsCaught()
    {
        using Key key = Key.Create(SignatureAlgorithm.Ed25519);

        string token = Jwt.Encode(new { sub = "user123", role = "admin" }, key);

        Assert.Equal("EdDSA", System.Text.Json.JsonDocument.Parse(Base64Url.DecodeFromChars(token.Split('.')[0])).RootElement.GetProperty("alg").GetString());
        Assert.Equal("user123", Jwt.Decode(token, key.PublicKey, ["EdDSA"])["sub"]);
        string tampered = token[..^2] + (token[^2] == 'A' ? "BA" : "AA");
        Assert.Throws<JwtInvalidSignatureException>(() => Jwt.Decode(tampered, key.PublicKey, ["EdDSA"]));
        Assert.Throws<JwtAlgorithmNotAllowedException>(() => Jwt.Decode(token, key.PublicKey, ["ES256"]));
    }

    [Fact]
    public void Decode_EdDsaTokenWithAnotherKey_InvalidSignature()
    {
        using Key key = Key.Create(SignatureAlgorithm.Ed25519);
        using Key other = Key.Create(SignatureAlgorithm.Ed25519);

        string token = Jwt.Encode(new { sub = "x" }, key);

        Assert.Throws<JwtInvalidSignatureException>(() => Jwt.Decode(token, other.PublicKey, ["EdDSA"]));
    }

    [Fact]
    public void FromPublicJwk_OkpKey_VerifiesTokensOfThatKey()
    {
        using Key key = RfcKey();
        string jwk = JsonWebKeys.PublicJwk(key, "EdDSA", out _);
        string token = Jwt.Encode(new { sub = "x" }, key);

        var verifier = (EdDsaJwsKey)JsonWebKeys.FromPublicJwk(jwk)!;

        Assert.Equal("x", Jwt.Decode(token, verifier.PublicKey, ["EdDSA"])["sub"]);
    }
}
