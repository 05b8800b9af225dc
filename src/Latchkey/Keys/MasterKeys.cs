using System.Security.Cryptography;
using Latchkey.Diagnostics;
using Latchkey.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Latchkey.Keys;

/// <summary>
/// The master key (<see cref="MasterKey"/>), loaded once per process, and the keys derived from it with HKDF, one per
/// purpose: the one that encrypts signing keys at rest (<see cref="KeyProtector"/>), and the one that keys the hash under
/// which attempted usernames are recorded (<see cref="LoginNameKey"/>).
/// </summary>
internal sealed class MasterKeys(IOptions<LatchkeyOptions> options, ISettingsStore settings, ILogger<MasterKeys> logger)
{
    private const string CheckValueName = "master_key_check";

    private readonly Lock _gate = new();
    private Derived? _derived;

    private sealed record Derived(KeyProtector Protector, byte[] LoginNameKey, KeyProtector DataProtector, KeyProtector FactorProtector, string Source);

    /// <summary>
    /// Loads the master key, creating <c>master.key</c> only when <paramref name="signingKeysExist"/> is false (see
    /// <see cref="MasterKey.Load"/>), and checks it is the one this database was set up with; later calls return what the
    /// first loaded. A different key is refused with <see cref="LatchkeyStartupException"/>, saying what to do: every node
    /// must hash attempted usernames alike and read the same signing keys, with HMAC signing (no stored key to decrypt) too.
    /// </summary>
    public async Task<KeyProtector> LoadAsync(bool signingKeysExist, CancellationToken cancellationToken)
    {
        if (_derived is { } loaded)
            return loaded.Protector;
        byte[] master = MasterKey.Load(options.Value, signingKeysExist, out bool created, out string source);
        try
        {
            // A value derived from the key, never the key: it tells keys apart and reveals nothing of them.
            string check = Convert.ToBase64String(HKDF.DeriveKey(HashAlgorithmName.SHA256, master, 16, salt: [], info: "latchkey/master-key-check/v1"u8.ToArray()));
            string stored = await settings.GetOrAddAsync(CheckValueName, check, cancellationToken);
            if (!CryptographicOperations.FixedTimeEquals(System.Text.Encoding.ASCII.GetBytes(stored), System.Text.Encoding.ASCII.GetBytes(check)))
            {
                throw new LatchkeyStartupException(
                    $"The master key from {source} is not the one this database was set up with. Use the master key every other node " +
                    "uses (restore master.key from the backup taken with this database, or set Latchkey:MasterKey).");
            }

            lock (_gate)
            {
                if (_derived is null)
                {
                    if (created)
                        Log.MasterKeyCreated(logger, source);
                    byte[] names = HKDF.DeriveKey(HashAlgorithmName.SHA256, master, 32, salt: [], info: "latchkey/login-names/v1"u8.ToArray());
                    _derived = new Derived(new KeyProtector(master), names, new KeyProtector(master, "latchkey/data-protection/v1"u8),
                        new KeyProtector(master, "latchkey/second-factor-secrets/v1"u8), source);
                }

                return _derived.Protector;
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(master);
        }
    }

    /// <summary>Where the master key came from (a file path, or the setting), for messages.</summary>
    public string Source => Loaded.Source;

    /// <summary>
    /// The key of the HMAC under which attempted usernames are stored and logged. A bare hash of a name can be reversed by
    /// trying a dictionary of names; without this key, which never leaves the master key's keeper, it cannot.
    /// </summary>
    public byte[] LoginNameKey => Loaded.LoginNameKey;

    /// <summary>
    /// Encrypts what the hosted pages' forms carry (their antiforgery tokens) under a key derived from the master key: the same
    /// on every node that shares the database, and across restarts.
    /// </summary>
    public KeyProtector DataProtector => Loaded.DataProtector;

    /// <summary>Encrypts users' authenticator-app (TOTP) secrets at rest, each bound to its user's id.</summary>
    public KeyProtector FactorProtector => Loaded.FactorProtector;

    private Derived Loaded => _derived ?? throw new InvalidOperationException("The master key is not loaded yet.");
}
