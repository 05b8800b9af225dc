using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Latchkey.Keys;

/// <summary>
/// The master key (<see cref="MasterKey"/>), loaded once per process, and the keys derived from it with HKDF, one per
/// purpose: the one that encrypts signing keys at rest (<see cref="KeyProtector"/>), and the one that keys the hash under
/// which attempted usernames are recorded (<see cref="LoginNameKey"/>).
/// </summary>
internal sealed class MasterKeys(IOptions<LatchkeyOptions> options, ILogger<MasterKeys> logger)
{
    private readonly Lock _gate = new();
    private Derived? _derived;

    private sealed record Derived(KeyProtector Protector, byte[] LoginNameKey, string Source);

    /// <summary>
    /// Loads the master key, creating <c>master.key</c> only when <paramref name="signingKeysExist"/> is false (see
    /// <see cref="MasterKey.Load"/>); later calls return what the first loaded.
    /// </summary>
    public KeyProtector Load(bool signingKeysExist)
    {
        lock (_gate)
        {
            if (_derived is null)
            {
                byte[] master = MasterKey.Load(options.Value, signingKeysExist, out bool created, out string source);
                if (created)
                    Log.MasterKeyCreated(logger, source);
                byte[] names = HKDF.DeriveKey(HashAlgorithmName.SHA256, master, 32, salt: [], info: "latchkey/login-names/v1"u8.ToArray());
                _derived = new Derived(new KeyProtector(master), names, source);
                CryptographicOperations.ZeroMemory(master);
            }

            return _derived.Protector;
        }
    }

    /// <summary>Where the master key came from (a file path, or the setting), for messages.</summary>
    public string Source => Loaded.Source;

    /// <summary>
    /// The key of the HMAC under which attempted usernames are stored and logged. A bare hash of a name can be reversed by
    /// trying a dictionary of names; without this key, which never leaves the master key's keeper, it cannot.
    /// </summary>
    public byte[] LoginNameKey => Loaded.LoginNameKey;

    private Derived Loaded => _derived ?? throw new InvalidOperationException("The master key is not loaded yet.");
}
