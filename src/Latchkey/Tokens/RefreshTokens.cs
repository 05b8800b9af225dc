using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Latchkey.Protocol;

namespace Latchkey.Tokens;

/// <summary>
/// What a refresh token is: opaque, 256 random bits, stored only as its SHA-256 hash (<see cref="RefreshTokenFamilies"/>
/// keeps them). Also seals the successor pair kept during the reuse window, under a key derived from the presented token
/// itself: the database holds only the token's hash, so a reader of the database cannot open it.
/// </summary>
internal static class RefreshTokens
{
    /// <summary>The prefix tells refresh tokens from JWTs at a glance, and lets secret scanners find leaked ones.</summary>
    public const string Prefix = "lk_rt_";

    private const int RandomBytes = 32;

    public static string Generate() => Prefix + Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(RandomBytes));

    /// <summary>
    /// True when <paramref name="token"/> has the shape of one of ours. Anything else is refused before the database is asked.
    /// </summary>
    public static bool HasValidShape(string token) =>
        token.Length == Prefix.Length + 43 && token.StartsWith(Prefix, StringComparison.Ordinal) &&
        token.AsSpan(Prefix.Length).IndexOfAnyExcept("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") < 0;

    /// <summary>A fast hash is enough: the token has 256 random bits, so there is nothing to guess.</summary>
    public static string Hash(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.ASCII.GetBytes(token)));

    /// <summary>Encrypts the successor response with AES-256-GCM under HKDF(presented token).</summary>
    public static byte[] Seal(TokenResponse response, string presentedToken)
    {
        byte[] plaintext = JsonSerializer.SerializeToUtf8Bytes(response, LatchkeyJsonContext.Default.TokenResponse);
        byte[] output = new byte[12 + 16 + plaintext.Length];
        RandomNumberGenerator.Fill(output.AsSpan(0, 12));
        using var aes = new AesGcm(SealingKey(presentedToken), 16);
        aes.Encrypt(output.AsSpan(0, 12), plaintext, output.AsSpan(28), output.AsSpan(12, 16));
        CryptographicOperations.ZeroMemory(plaintext);
        return output;
    }

    /// <summary>Opens what <see cref="Seal"/> made, or returns null if this is not the token it was sealed for.</summary>
    public static TokenResponse? Unseal(byte[] sealedResponse, string presentedToken)
    {
        if (sealedResponse.Length < 28)
            return null;
        byte[] plaintext = new byte[sealedResponse.Length - 28];
        try
        {
            using var aes = new AesGcm(SealingKey(presentedToken), 16);
            aes.Decrypt(sealedResponse.AsSpan(0, 12), sealedResponse.AsSpan(28), sealedResponse.AsSpan(12, 16), plaintext);
            return JsonSerializer.Deserialize(plaintext, LatchkeyJsonContext.Default.TokenResponse);
        }
        catch (AuthenticationTagMismatchException)
        {
            return null;
        }
    }

    private static byte[] SealingKey(string presentedToken) =>
        HKDF.DeriveKey(HashAlgorithmName.SHA256, Encoding.ASCII.GetBytes(presentedToken), 32, salt: [], info: "latchkey/refresh-replay/v1"u8.ToArray());
}
