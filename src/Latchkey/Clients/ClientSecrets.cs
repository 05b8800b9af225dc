using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace Latchkey.Clients;

/// <summary>
/// Generated client secrets: 256 random bits, stored as SHA-256. A slow password hash (Argon2id) protects
/// low-entropy human passwords against guessing; a 256-bit random secret cannot be guessed, so a fast hash loses
/// nothing and keeps client authentication at microseconds rather than tens of milliseconds per request.
/// </summary>
public static class ClientSecrets
{
    /// <summary>The prefix makes leaked secrets easy for scanners to spot.</summary>
    public const string Prefix = "lk_cs_";

    public static string Generate() => Prefix + Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));

    public static string Hash(string secret) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));

    /// <summary>Compares in constant time, so response timing reveals nothing about how close a guess was.</summary>
    public static bool Verify(string secret, string storedHash)
    {
        byte[] actual = SHA256.HashData(Encoding.UTF8.GetBytes(secret));
        byte[] expected;
        try
        {
            expected = Convert.FromHexString(storedHash);
        }
        catch (FormatException)
        {
            return false;
        }

        return CryptographicOperations.FixedTimeEquals(actual, expected);
    }
}
