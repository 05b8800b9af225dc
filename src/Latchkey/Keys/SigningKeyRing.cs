using System.Text;
using Latchkey.Diagnostics;
using Latchkey.Jose;
using Latchkey.Storage;
using Latchkey.Tokens;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Latchkey.Keys;

/// <summary>
/// The keys in use: the one that signs new access tokens, the one that signs id tokens (RS256, which OpenID Connect requires
/// every provider to offer, beside whatever signs access tokens), and every key whose tokens are still accepted and
/// published. A key is published from the moment it is stored, signs from its activation until its retirement, and stays
/// published until the last token it can have signed has expired. Re-read from the store every
/// <see cref="KeyOptions.RefreshInterval"/>; replaced as a whole, so a reader never sees half a ring.
/// </summary>
internal sealed class SigningKeyRing(ISigningKeyStore store, MasterKeys masterKeys, IOptions<LatchkeyOptions> options, TimeProvider time,
    ILogger<SigningKeyRing> logger)
{
    /// <summary>The algorithm of id tokens: RS256, which every OpenID Connect relying party can verify (Core §15.1).</summary>
    public const string IdTokenAlgorithm = JwtAlgorithms.RS256;

    /// <summary>
    /// The algorithms a client may register for its id tokens: RS256 (the default), and the access tokens' algorithm, whose key
    /// then signs them too, when that is asymmetric (an HMAC secret is never shared with relying parties).
    /// </summary>
    public static IReadOnlyList<string> IdTokenAlgorithms(LatchkeyOptions o) =>
        JwtAlgorithms.IsHmac(o.SigningAlgorithm) || o.SigningAlgorithm == IdTokenAlgorithm ? [IdTokenAlgorithm] : [IdTokenAlgorithm, o.SigningAlgorithm];

    /// <summary>
    /// The key for an id token of <paramref name="algorithm"/> (a client's registered one, null for the default): the access
    /// tokens' key when it is of that algorithm, else the id tokens' RS256 key.
    /// </summary>
    public SigningKey IdTokenSignerFor(string? algorithm) =>
        algorithm is not null && algorithm != IdTokenAlgorithm && Current is { PublicJwk: not null } access && access.Algorithm == algorithm ? access : IdTokenSigner;

    private sealed record Snapshot(IReadOnlyList<(SigningKey Key, SigningKeyRecord Record)> Signers, SigningKey? Hmac,
        IReadOnlyDictionary<string, SigningKey> Published, byte[] JwksJson);

    private Snapshot? _snapshot;
    private KeyProtector? _protector;
    private SigningKey? _hmac;
    private readonly Dictionary<string, SigningKey> _decrypted = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _refreshing = new(1, 1);

    private Snapshot Loaded => _snapshot ?? throw new InvalidOperationException("The signing keys are not loaded yet.");

    /// <summary>
    /// The key that signs new access tokens now: the configured HMAC secret, or of the access-token keys whose activation has
    /// come and whose retirement has not, the most recently activated. Evaluated per call, so a scheduled key starts signing
    /// at its time on every node.
    /// </summary>
    public SigningKey Current => Loaded.Hmac ?? SignerFor(Loaded, SigningKeyPurposes.AccessToken).Key;

    /// <summary>The key that signs new id tokens now, chosen as <see cref="Current"/> is, among the id-token keys.</summary>
    public SigningKey IdTokenSigner => SignerFor(Loaded, SigningKeyPurposes.IdToken).Key;

    /// <summary>The stored record of <see cref="Current"/>; null until loaded.</summary>
    public SigningKeyRecord? CurrentRecord => _snapshot switch
    {
        null => null,
        { Hmac: { } hmac } => new SigningKeyRecord(hmac.KeyId, hmac.Algorithm, "", [], DateTimeOffset.MinValue, DateTimeOffset.MinValue, null),
        { } snapshot => SignerFor(snapshot, SigningKeyPurposes.AccessToken).Record,
    };

    /// <summary>
    /// When <see cref="Current"/> was made, for the key-age metric: null before the keys are loaded, and for an HMAC secret from
    /// configuration, which has no age Latchkey knows.
    /// </summary>
    public DateTimeOffset? CurrentKeyCreatedAt => CurrentRecord is { } record && record.CreatedAt != DateTimeOffset.MinValue ? record.CreatedAt : null;

    private (SigningKey Key, SigningKeyRecord Record) SignerFor(Snapshot snapshot, string purpose)
    {
        DateTimeOffset now = time.GetUtcNow();
        (SigningKey, SigningKeyRecord)? current = null, newestOfPurpose = null;
        foreach ((SigningKey key, SigningKeyRecord record) in snapshot.Signers)
        {
            if (record.Purpose != purpose)
                continue;
            // Signers are ordered by activation: the last match is the newest.
            newestOfPurpose = (key, record);
            if (record.ActivatesAt <= now && (record.RetiredAt is null || now < record.RetiredAt))
                current = (key, record);
        }

        // Never refuse to sign because an operator retired everything: fall back to the newest published key of the purpose.
        // Never to a key of the other purpose: RefreshAsync keeps a ring only when each purpose has one.
        return current ?? newestOfPurpose ?? throw new InvalidOperationException($"No {purpose} key is loaded.");
    }

    /// <summary>The JWKS document (RFC 7517 §5), public parts only, ready to send.</summary>
    public byte[] JwksJson => Loaded.JwksJson;

    public bool IsLoaded => _snapshot is not null;

    /// <summary>The published key for a token's <c>kid</c> (or the HMAC secret's), or null when it is not one of ours (or no longer).</summary>
    public SigningKey? Find(string? keyId) => keyId is not null && Loaded.Published.TryGetValue(keyId, out SigningKey? key) ? key : null;

    /// <summary>How long a key stays published after it stops signing: until the last token it signed has expired.</summary>
    public static TimeSpan PublishedAfterRetirement(LatchkeyOptions o) => o.AccessTokenLifetime + JwsVerifier.Leeway;

    /// <summary>
    /// Loads the keys at start, creating the first ones (and the master key) on a fresh install, and the first id-token key on an
    /// install that had none. Fails start-up with a clear message when the master key cannot decrypt the stored keys.
    /// </summary>
    public async Task LoadAsync(KeyRotation rotation, CancellationToken cancellationToken)
    {
        LatchkeyOptions o = options.Value;
        DateTimeOffset now = time.GetUtcNow();
        IReadOnlyList<SigningKeyRecord> stored = await store.ListAsync(now - PublishedAfterRetirement(o), cancellationToken);
        // Loaded with HMAC too: the master key keys the hash of attempted usernames (MasterKeys.LoginNameKey), and seals the
        // id-token key.
        _protector = await masterKeys.LoadAsync(signingKeysExist: stored.Count > 0, cancellationToken);
        IReadOnlyList<SigningKeyRecord> records = Usable(stored);
        bool Signs(SigningKeyRecord r) => r.RetiredAt is null || r.RetiredAt > now;

        if (!JwtAlgorithms.IsHmac(o.SigningAlgorithm))
        {
            SigningKeyRecord[] access = records.Where(r => r.Purpose == SigningKeyPurposes.AccessToken).ToArray();
            if (!access.Any(Signs))
            {
                // A fresh install: no verifier can have cached a key set yet, so the first key signs at once.
                if (await rotation.CreateFirstAsync(o.SigningAlgorithm, SigningKeyPurposes.AccessToken, _protector, cancellationToken) is { } first)
                    Log.SigningKeyGenerated(logger, first.KeyId, first.Algorithm);
            }
            else if (!access.Any(r => r.Algorithm == o.SigningAlgorithm && Signs(r)))
            {
                // The configured algorithm changed: move to it the safe way, pre-published like any rotation.
                SigningKeyInfo next = await rotation.RotateAsync(o.SigningAlgorithm, actor: "startup", cancellationToken);
                Log.SigningKeyGenerated(logger, next.KeyId, next.Algorithm);
            }
        }

        if (!records.Any(r => r.Purpose == SigningKeyPurposes.IdToken && Signs(r)))
        {
            // The first id-token key (an install from before them, or one whose id-token keys were all retired): no key of
            // this purpose signs, so it signs at once; a relying party meeting its kid before its cached JWKS expires fetches
            // the JWKS again (the OpenID Connect libraries do).
            if (await rotation.CreateFirstAsync(IdTokenAlgorithm, SigningKeyPurposes.IdToken, _protector, cancellationToken) is { } first)
                Log.SigningKeyGenerated(logger, first.KeyId, first.Algorithm);
        }

        await RefreshAsync(cancellationToken);
    }

    /// <summary>Re-reads the keys: new ones are published (and will sign when their time comes), expired ones leave.</summary>
    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        if (_protector is null)
            return; // Not loaded yet.

        await _refreshing.WaitAsync(cancellationToken);
        try
        {
            LatchkeyOptions o = options.Value;
            DateTimeOffset now = time.GetUtcNow();
            bool hmacAccessTokens = JwtAlgorithms.IsHmac(o.SigningAlgorithm);
            IReadOnlyList<SigningKeyRecord> records = Usable(await store.ListAsync(now - PublishedAfterRetirement(o), cancellationToken));
            // With an HMAC secret for access tokens, stored access-token keys (from before a switch to HMAC) neither sign, nor
            // verify, nor are published: the secret alone stands for access tokens.
            if (hmacAccessTokens)
                records = records.Where(r => r.Purpose != SigningKeyPurposes.AccessToken).ToArray();
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

            if (!hmacAccessTokens && !signers.Any(s => s.Item2.Purpose == SigningKeyPurposes.AccessToken))
                throw new LatchkeyStartupException("No access-token signing key is left in the database. Create one with: latchkey keys rotate");
            if (!signers.Any(s => s.Item2.Purpose == SigningKeyPurposes.IdToken))
                throw new LatchkeyStartupException("No id-token signing key is left in the database. Create one with: latchkey keys rotate --id-token");
            byte[] jwks = Jwks(published.Values.Select(k => k.PublicJwk!));
            // An HMAC secret from configuration signs and verifies access tokens, but is never published.
            SigningKey? hmac = hmacAccessTokens ? _hmac ??= SigningKey.FromHmacSecret(o.HmacSecret!, o.SigningAlgorithm) : null;
            if (hmac is not null)
                published[hmac.KeyId] = hmac;
            _snapshot = new Snapshot(signers, hmac, published, jwks);
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
