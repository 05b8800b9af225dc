using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using NSec.Cryptography;

namespace Latchkey.Accounts;

/// <summary>
/// Argon2id password hashes (RFC 9106) in the PHC string format,
/// <c>$argon2id$v=19$m=19456,t=2,p=1$salt$hash</c>, so each hash carries its own parameters and can be
/// upgraded when the configured cost rises. Runs on libsodium through NSec (native speed: a login costs the
/// hash and nothing else).
/// </summary>
public sealed class PasswordHasher
{
    private const int SaltBytes = 16;
    private const int HashBytes = 32;

    /// <summary>NIST SP 800-63B §5.1.1.2: at least 8 characters.</summary>
    public const int MinimumPasswordLength = 8;

    /// <summary>Long enough for any passphrase, short enough that hashing cannot be abused as a DoS amplifier.</summary>
    public const int MaximumPasswordLength = 1024;

    private readonly int _memoryKiB;
    private readonly int _iterations;
    private readonly Lazy<string> _dummyHash;

    public PasswordHasher(PasswordHashingOptions options)
    {
        _memoryKiB = options.MemoryKiB;
        _iterations = options.Iterations;
        _dummyHash = new Lazy<string>(() => Hash(Convert.ToBase64String(RandomNumberGenerator.GetBytes(24))));
    }

    public string Hash(string password)
    {
        byte[] salt = RandomNumberGenerator.GetBytes(SaltBytes);
        byte[] hash = Derive(password, salt, _memoryKiB, _iterations, HashBytes);
        return string.Create(CultureInfo.InvariantCulture,
            $"$argon2id$v=19$m={_memoryKiB},t={_iterations},p=1${Base64NoPad(salt)}${Base64NoPad(hash)}");
    }

    /// <summary>Checks <paramref name="password"/> against <paramref name="encodedHash"/> in constant time.</summary>
    /// <param name="needsRehash">True when the hash is valid but weaker than the current parameters.</param>
    public bool Verify(string password, string encodedHash, out bool needsRehash)
    {
        needsRehash = false;
        if (!TryParse(encodedHash, out int memory, out int iterations, out byte[] salt, out byte[] expected))
            return false;
        byte[] actual = Derive(password, salt, memory, iterations, expected.Length);
        bool ok = CryptographicOperations.FixedTimeEquals(actual, expected);
        needsRehash = ok && (memory < _memoryKiB || iterations < _iterations);
        return ok;
    }

    /// <summary>
    /// Spends the time of one real verification against a hash nobody knows the password of. Called for unknown
    /// users, so that response times do not reveal which usernames exist.
    /// </summary>
    public void VerifyDummy(string password) => Verify(password, _dummyHash.Value, out _);

    /// <summary>Builds the dummy hash now, so the first unknown-user login is not measurably faster or slower.</summary>
    public void Warm() => _ = _dummyHash.Value;

    private static byte[] Derive(string password, byte[] salt, int memoryKiB, int iterations, int length)
    {
        var algorithm = PasswordBasedKeyDerivationAlgorithm.Argon2id(new Argon2Parameters
        {
            DegreeOfParallelism = 1,
            MemorySize = memoryKiB,
            NumberOfPasses = iterations,
        });
        return algorithm.DeriveBytes(Encoding.UTF8.GetBytes(password), salt, length);
    }

    private static bool TryParse(string encoded, out int memory, out int iterations, out byte[] salt, out byte[] hash)
    {
        memory = iterations = 0;
        salt = hash = [];
        // $argon2id$v=19$m=..,t=..,p=1$salt$hash  →  ["", "argon2id", "v=19", "m=..,t=..,p=1", salt, hash]
        string[] parts = encoded.Split('$');
        if (parts.Length != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != "v=19")
            return false;
        string[] parameters = parts[3].Split(',');
        if (parameters.Length != 3 || parameters[2] != "p=1" ||
            !TryParameter(parameters[0], "m=", out memory) || !TryParameter(parameters[1], "t=", out iterations))
            return false;
        try
        {
            salt = Convert.FromBase64String(Pad(parts[4]));
            hash = Convert.FromBase64String(Pad(parts[5]));
        }
        catch (FormatException)
        {
            return false;
        }

        return salt.Length >= 8 && hash.Length >= 16;
    }

    private static bool TryParameter(string text, string prefix, out int value)
    {
        value = 0;
        return text.StartsWith(prefix, StringComparison.Ordinal) &&
               int.TryParse(text.AsSpan(prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out value) && value > 0;
    }

    private static string Base64NoPad(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=');

    private static string Pad(string s) => s.PadRight(s.Length + (4 - s.Length % 4) % 4, '=');
}
