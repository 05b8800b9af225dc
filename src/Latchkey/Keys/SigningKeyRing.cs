using System.Text;
using Latchkey.Diagnostics;
using Latchkey.Jose;
using Latchkey.Storage;
using Latchkey.Tokens;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Latchkey.Keys;

/// <summary>
/// The keys in use: the one that signs new tokens, and every key whose tokens are still accepted and published.
/// A key is published from the moment it is stored, signs from its activation until its retirement, and stays
/// published until the last token it can have signed has expired. Re-read from the store every
/// <see cref="KeyOptions.RefreshInterval"/>; replaced as a whole, so a reader never sees half a ring.
/// </summary>
internal sealed class SigningKeyRing(ISigningKeyStore store, MasterKeys masterKeys, IOptions<LatchkeyOptions> options, TimeProvider time,
    ILogger<SigningKeyRing> logger)
{
    private sealed record Snapshot(IReadOnlyList<(SigningKey Key, SigningKeyRecord Record)> Signers, IReadOnlyDictionary<string, SigningKey> Published, byte[] JwksJson);

    private Snapshot? _snapshot;
    private KeyProtector? _protector;
    private readonly Dictionary<string, SigningKey> _decrypted = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _refreshing = new(1, 1);

    private Snapshot Loaded => _snapshot ?? throw new InvalidOperationException("The signing keys are not loaded yet.");

    /// <summary>
    /// The key that signs new tokens now: of the keys whose activation has come and whose retirement has not, the
    /// most recently activated. Evaluated per call, so a scheduled key starts signing at its time on every node.
    /// </summary>
    public SigningKey Current => CurrentSigner(Loaded).Key;

    /// <summary>The stored record of <see cref="Current"/>; null until loaded.</summary>
    public SigningKeyRecord? CurrentRecord => _snapshot is { } snapshot ? CurrentSigner(snapshot).Record : null;

    /// <summary>
    /// When <see cref="Current"/> was made, for the key-age metric: null before the keys are loaded, and for an HMAC secret from
    /// configuration, which has no age Latchkey knows.
    /// </summary>
    public DateTimeOffset? CurrentKeyCreatedAt => CurrentRecord is { } record && record.CreatedAt != DateTimeOffset.MinValue ? record.CreatedAt : null;

    private (SigningKey Key, SigningKeyRecord Record) CurrentSigner(Snapshot snapshot)
    {
        DateTimeOffset now = time.GetUtcNow();
        (SigningKey, SigningKeyRecord)? current = null;
        foreach ((SigningKey key, SigningKeyRecord record) in snapshot.Signers)
        {
            if (record.ActivatesAt <= now && (record.RetiredAt is null || now < record.RetiredAt))
                current = (key, record); // Signers are ordered by activation: the last match is the newest.
        }

        // Never refuse to sign because an operator retired everything: fall back to the newest published signer.
        return current ?? snapshot.Signers[^1];
    }

    /// <summary>The JWKS document (RFC 7517 §5), public parts only, ready to send.</summary>
    public byte[] JwksJson => Loaded.JwksJson;

    public bool IsLoaded => _snapshot is not null;

    /// <summary>The published key for a token's <c>kid</c>, or null when it is not one of ours (or no longer).</summary>
    public SigningKey? Find(string? keyId) => keyId is not null && Loaded.Published.TryGetValue(keyId, out SigningKey? key) ? key : null;

    /// <summary>How long a key stays published after it stops signing: until the last token it signed has expired.</summary>
    public static TimeSpan PublishedAfterRetirement(LatchkeyOptions o) => o.AccessTokenLifetime + JwsVerifier.Leeway;

    /// <summary>
    /// Loads the keys at start, creating the first one (and the master key) on a fresh install. Fails start-up with a
    /// clear message when the master key cannot decrypt the stored keys.
    /// </summary>
    public async Task LoadAsync(KeyRotation rotation, CancellationToken cancellationToken)
    {
        LatchkeyOptions o = options.Value;
        DateTimeOffset now = time.GetUtcNow();
        IReadOnlyList<SigningKeyRecord> stored = await store.ListAsync(now - PublishedAfterRetirement(o), cancellationToken);
        // Loaded with HMAC too: the master key keys the hash of attempted usernames (MasterKeys.LoginNameKey).
        KeyProtector protector = await masterKeys.LoadAsync(signingKeysExist: stored.Count > 0, cancellationToken);
        IReadOnlyList<SigningKeyRecord> records = Usable(stored);
        if (JwtAlgorithms.IsHmac(o.SigningAlgorithm))
        {
            SigningKey hmac = SigningKey.FromHmacSecret(o.HmacSecret!, o.SigningAlgorithm);
            var record = new SigningKeyRecord(hmac.KeyId, hmac.Algorithm, "", [], DateTimeOffset.MinValue, DateTimeOffset.MinValue, null);
            _snapshot = new Snapshot([(hmac, record)], new Dictionary<string, SigningKey> { [hmac.KeyId] = hmac }, Jwks([]));
            return;
        }

        _protector = protector;

        bool anySigner = records.Any(r => r.RetiredAt is null || r.RetiredAt > now);
        if (!anySigner)
        {
            // A fresh install: no verifier can have cached a key set yet, so the first key signs at once.
            if (await rotation.CreateFirstAsync(o.SigningAlgorithm, _protector, cancellationToken) is { } first)
                Log.SigningKeyGenerated(logger, first.KeyId, first.Algorithm);
        }
        else if (!records.Any(r => r.Algorithm == o.SigningAlgorithm && (r.RetiredAt is null || r.RetiredAt > now)))
        {
            // The configured algorithm changed: move to it the safe way, pre-published like any rotation.
            SigningKeyInfo next = await rotation.RotateAsync(o.SigningAlgorithm, actor: "startup", cancellationToken);
            Log.SigningKeyGenerated(logger, next.KeyId, next.Algorithm);
        }

        await RefreshAsync(cancellationToken);
    }

    /// <summary>Re-reads the keys: new ones are published (and will sign when their time comes), expired ones leave.</summary>
    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        if (_protector is null)
            return; // HMAC: the key comes from configuration and never changes while running.

        await _refreshing.WaitAsync(cancellationToken);
        try
        {
            LatchkeyOptions o = options.Value;
            DateTimeOffset now = time.GetUtcNow();
            IReadOnlyList<SigningKeyRecord> records = Usable(await store.ListAsync(now - PublishedAfterRetirement(o), cancellationToken));
            var signers = new List<(SigningKey, SigningKeyRecord)>();
            var published = new Dictionary<string, SigningKey>(StringComparer.Ordinal);
            foreach (SigningKeyRecord record in records)
            {
                if (!_decrypted.TryGetValue(record.KeyId, out SigningKey? key))
                {
                    key = SigningKey.Load(record, _protector) ?? throw new LatchkeyStartupException(
                        $"The master key from {masterKeys.Source} does not decrypt signing key {record.KeyId}. " +
                        "Use the master key this database was created with (restore master.key, or set Latchkey:MasterKey).");
                    _decrypted[record.KeyId] = key;
                }

                published[record.KeyId] = key;
                signers.Add((key, record));
            }

            if (signers.Count == 0)
                throw new LatchkeyStartupException("No signing key is left in the database. Create one with: latchkey keys rotate");
            _snapshot = new Snapshot(signers, published, Jwks(published.Values.Select(k => k.PublicJwk!)));
        }
        finally
        {
            _refreshing.Release();
        }
    }

    /// <summary>A revoked key neither signs nor verifies, and is not published: it leaves the ring at the next refresh.</summary>
    private static IReadOnlyList<SigningKeyRecord> Usable(IReadOnlyList<SigningKeyRecord> records) =>
        records.Any(r => r.RevokedAt is not null) ? records.Where(r => r.RevokedAt is null).ToArray() : records;

    private static byte[] Jwks(IEnumerable<string> publicJwks) =>
        Encoding.UTF8.GetBytes("{\"keys\":[" + string.Join(",", publicJwks) + "]}");
}
