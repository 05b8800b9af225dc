using Latchkey.Audit;
using Latchkey.Storage;
using Microsoft.Extensions.Options;

namespace Latchkey.Keys;

/// <summary>Where a key is in its life, as <c>latchkey keys list</c> shows it.</summary>
public enum SigningKeyState
{
    /// <summary>Published, not signing yet: verifiers are picking it up.</summary>
    Pending,

    /// <summary>Signs new tokens (the newest active key does).</summary>
    Active,

    /// <summary>No longer signs; published until the last token it signed has expired.</summary>
    Retired,

    /// <summary>Retired and past that: no longer published.</summary>
    Gone,

    /// <summary>Revoked (leaked): neither signs nor verifies, and is not published.</summary>
    Revoked,
}

/// <summary>
/// A signing key as the admin API and <c>latchkey keys list</c> show it: public facts only, never the private key.
/// <paramref name="SignsFrom"/> is when it starts signing; <paramref name="StopsSigning"/> when it stops (retired).
/// </summary>
public sealed record SigningKeyInfo(string KeyId, string Algorithm, SigningKeyState State, DateTimeOffset CreatedAt, DateTimeOffset SignsFrom,
    DateTimeOffset? StopsSigning, DateTimeOffset? RevokedAt)
{
    /// <summary>What it signs: <see cref="SigningKeyPurposes.AccessToken"/> or <see cref="SigningKeyPurposes.IdToken"/>.</summary>
    public string Purpose { get; init; } = SigningKeyPurposes.AccessToken;
}

/// <summary>What a key revocation did: <paramref name="SigningFromNow"/> is the key that signs from now when that changed, and
/// <paramref name="Unannounced"/> says it was added just now rather than published beforehand.</summary>
public sealed record KeyRevocation(string RevokedKeyId, string? SigningFromNow, bool Unannounced);

/// <summary>
/// Adding and retiring signing keys without a single failed verification, for the CLI, the admin API and the
/// automatic schedule alike. A new key is published at once but signs only after every verifier can have fetched
/// it (ring refresh plus JWKS cache lifetime); the key it replaces stops signing at that same moment. Access-token keys and
/// id-token keys (<see cref="SigningKeyPurposes"/>) rotate each on their own.
/// </summary>
internal sealed class KeyRotation(ISigningKeyStore store, MasterKeys masterKeys, AuditTrail audit, IOptions<LatchkeyOptions> options, TimeProvider time)
{
    /// <summary>From publication to first signature: every node has re-read the keys, and every cached JWKS has expired.</summary>
    public TimeSpan PublicationLead => options.Value.Keys.RefreshInterval + options.Value.Keys.JwksCacheLifetime;

    /// <summary>Every key Latchkey has, with its state now.</summary>
    public async Task<IReadOnlyList<SigningKeyInfo>> ListAsync(CancellationToken cancellationToken) =>
        (await AllAsync(cancellationToken)).Select(Describe).ToArray();

    private Task<IReadOnlyList<SigningKeyRecord>> AllAsync(CancellationToken cancellationToken) => store.ListAsync(DateTimeOffset.MinValue, cancellationToken);

    private SigningKeyInfo Describe(SigningKeyRecord k) =>
        new(k.KeyId, k.Algorithm, StateOf(k), k.CreatedAt, k.ActivatesAt, k.RetiredAt, k.RevokedAt) { Purpose = k.Purpose };

    private SigningKeyState StateOf(SigningKeyRecord key)
    {
        DateTimeOffset now = time.GetUtcNow();
        if (key.RevokedAt is not null)
            return SigningKeyState.Revoked;
        if (key.RetiredAt is { } retired && retired <= now)
            return now < retired + SigningKeyRing.PublishedAfterRetirement(options.Value) ? SigningKeyState.Retired : SigningKeyState.Gone;
        return key.ActivatesAt > now ? SigningKeyState.Pending : SigningKeyState.Active;
    }

    /// <summary>
    /// Adds an access-token key of <paramref name="algorithm"/> (default: the configured one) that signs after
    /// <see cref="PublicationLead"/>, and schedules every current access-token key to stop signing at that moment.
    /// <paramref name="actor"/> is audited: <c>cli</c>, <c>scheduler</c>, or an admin's name.
    /// </summary>
    public Task<SigningKeyInfo> RotateAsync(string? algorithm, string actor, CancellationToken cancellationToken) =>
        RotateAsync(SigningKeyPurposes.AccessToken, algorithm, actor, cancellationToken);

    /// <summary>
    /// As <see cref="RotateAsync(string?, string, CancellationToken)"/>, for the keys of <paramref name="purpose"/>: id-token keys
    /// are RS256 only (what discovery announces). Throws <see cref="ArgumentException"/> for a key Latchkey cannot make.
    /// </summary>
    public async Task<SigningKeyInfo> RotateAsync(string purpose, string? algorithm, string actor, CancellationToken cancellationToken) =>
        Describe((await TryRotateAsync(purpose, algorithm, actor, unlessCreatedAfter: null, cancellationToken))!);

    /// <summary>
    /// The automatic schedule: rotates the keys of each purpose whose newest key is older than <see cref="KeyOptions.RotationInterval"/>,
    /// unless another node has just done it. Returns the new keys: none when no rotation was due or another node made it.
    /// </summary>
    public async Task<IReadOnlyList<SigningKeyRecord>> RotateIfDueAsync(CancellationToken cancellationToken)
    {
        var rotated = new List<SigningKeyRecord>();
        foreach (string purpose in await PurposesDueAsync(cancellationToken))
        {
            if (await TryRotateAsync(purpose, null, "scheduler", time.GetUtcNow() - options.Value.Keys.RotationInterval, cancellationToken) is { } key)
                rotated.Add(key);
        }

        return rotated;
    }

    private async Task<SigningKeyRecord?> TryRotateAsync(string purpose, string? algorithm, string actor, DateTimeOffset? unlessCreatedAfter,
        CancellationToken cancellationToken)
    {
        LatchkeyOptions o = options.Value;
        if (!SigningKeyPurposes.IsKnown(purpose))
            throw new ArgumentException($"'{purpose}' is not a key purpose: use {SigningKeyPurposes.AccessToken} or {SigningKeyPurposes.IdToken}.", nameof(purpose));
        if (purpose == SigningKeyPurposes.IdToken)
        {
            algorithm ??= SigningKeyRing.IdTokenAlgorithm;
            if (algorithm != SigningKeyRing.IdTokenAlgorithm)
                throw new ArgumentException($"Id tokens are signed with {SigningKeyRing.IdTokenAlgorithm} only, which every OpenID Connect relying party accepts.", nameof(algorithm));
        }
        else if (JwtAlgorithms.IsHmac(o.SigningAlgorithm))
        {
            throw new ArgumentException("This server signs access tokens with Latchkey:HmacSecret, which lives in configuration: there is no access-token key to rotate.", nameof(purpose));
        }

        algorithm ??= o.SigningAlgorithm;
        if (!JwtAlgorithms.IsSupported(algorithm) || JwtAlgorithms.IsHmac(algorithm))
            throw new ArgumentException($"'{algorithm}' is not an asymmetric algorithm Latchkey generates keys for.", nameof(algorithm));

        IReadOnlyList<SigningKeyRecord> existing = await AllAsync(cancellationToken);
        KeyProtector protector = await masterKeys.LoadAsync(signingKeysExist: existing.Count > 0, cancellationToken);
        DateTimeOffset activatesAt = time.GetUtcNow() + PublicationLead;
        (_, SigningKeyRecord created) = SigningKey.Generate(algorithm, protector, time.GetUtcNow(), activatesAt);
        created = created with { Purpose = purpose };
        if (!await store.TryRotateAsync(created, unlessCreatedAfter, cancellationToken))
            return null;

        await audit.WriteAsync(new AuditEvent(time.GetUtcNow(), AuditEvents.KeyRotated, AuditOutcomes.Success, Actor: actor,
            Detail: $"{created.KeyId} ({created.Algorithm}) signs {Describe(purpose)} from {created.ActivatesAt.UtcDateTime:O}"), cancellationToken);
        return created;
    }

    private static string Describe(string purpose) => purpose == SigningKeyPurposes.IdToken ? "id tokens" : "access tokens";

    /// <summary>
    /// The first key of a purpose, signing at once (no token it could sign exists yet, so no verifier can miss it). Null when
    /// another node starting at the same moment stored one first.
    /// </summary>
    internal async Task<SigningKeyRecord?> CreateFirstAsync(string algorithm, string purpose, KeyProtector protector, CancellationToken cancellationToken)
    {
        (_, SigningKeyRecord record) = SigningKey.Generate(algorithm, protector, time.GetUtcNow(), time.GetUtcNow());
        record = record with { Purpose = purpose };
        // Called when no key of the purpose signs: another node starting at the same moment (within a few minutes of this one's
        // clock) may have made one meanwhile; keys made long ago are retired ones, which do not count.
        return await store.TryRotateAsync(record, unlessCreatedAfter: time.GetUtcNow() - FirstKeyRaceWindow, cancellationToken) ? record : null;
    }

    /// <summary>How far apart two nodes starting on the same database may make a purpose's first key and still make one.</summary>
    private static readonly TimeSpan FirstKeyRaceWindow = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Stops a key signing now. Its tokens stay valid until they expire. Refused when no other key would be left to sign:
    /// rotate first.
    /// </summary>
    public async Task<string?> RetireAsync(string keyId, string actor, CancellationToken cancellationToken)
    {
        DateTimeOffset now = time.GetUtcNow();
        IReadOnlyList<SigningKeyRecord> keys = await AllAsync(cancellationToken);
        SigningKeyRecord? key = keys.FirstOrDefault(k => k.KeyId == keyId);
        if (key is null)
            return $"No signing key with kid '{keyId}'.";
        if (key.RevokedAt is not null)
            return $"Key '{keyId}' is revoked.";
        if (key.RetiredAt is { } retired && retired <= now)
            return $"Key '{keyId}' is already retired.";
        if (!keys.Any(k => k.KeyId != keyId && k.Purpose == key.Purpose && k.RevokedAt is null && (k.RetiredAt is null || k.RetiredAt > now)))
            return $"Key '{keyId}' is the only key left to sign {Describe(key.Purpose)} with. " +
                   $"Run 'latchkey keys rotate{(key.Purpose == SigningKeyPurposes.IdToken ? " --id-token" : "")}' first, then retire it.";
        await store.RetireAsync(keyId, now, cancellationToken);
        await audit.WriteAsync(new AuditEvent(now, AuditEvents.KeyRetired, AuditOutcomes.Success, Actor: actor, Detail: keyId), cancellationToken);
        return null;
    }

    /// <summary>
    /// Revokes a leaked key at once: it stops signing, leaves the JWKS and verifies nothing more, here at the caller's next
    /// ring refresh and on every node at its next revocation sync. If it was signing, another key of its purpose signs from now:
    /// a pending one brought forward (published already), else a new one, unannounced (an emergency cannot wait for verifiers'
    /// caches). Returns the outcome, or why it was refused. Not for HMAC secrets, which live in configuration.
    /// </summary>
    public async Task<(KeyRevocation? Result, string? Error)> RevokeAsync(string keyId, string actor, CancellationToken cancellationToken)
    {
        LatchkeyOptions o = options.Value;
        if (JwtAlgorithms.IsHmac(o.SigningAlgorithm) && keyId == SigningKey.FromHmacSecret(o.HmacSecret!, o.SigningAlgorithm).KeyId)
            return (null, "This server signs with Latchkey:HmacSecret, which lives in configuration: replace the secret on every node and verifier instead.");
        DateTimeOffset now = time.GetUtcNow();
        IReadOnlyList<SigningKeyRecord> existing = await AllAsync(cancellationToken);
        if (existing.FirstOrDefault(k => k.KeyId == keyId) is not { } revoked)
            return (null, $"No signing key with kid '{keyId}'.");
        // Made before the store decides whether it is needed: generating a key inside its transaction would hold the lock longer.
        // Of the revoked key's algorithm (stored keys are never HMAC); the store gives it the revoked key's purpose.
        string algorithm = revoked.Algorithm;
        (_, SigningKeyRecord replacement) = SigningKey.Generate(algorithm, await masterKeys.LoadAsync(signingKeysExist: existing.Count > 0, cancellationToken), now, now);
        KeyRevocationResult result = await store.RevokeAsync(keyId, now, replacement, cancellationToken);
        switch (result.Status)
        {
            case KeyRevocationStatus.NotFound:
                return (null, $"No signing key with kid '{keyId}'.");
            case KeyRevocationStatus.AlreadyRevoked:
                return (null, $"Key '{keyId}' is revoked already.");
        }

        string signing = result.SigningKeyId is { } next
            ? result.Status == KeyRevocationStatus.RevokedReplacementAdded ? $"; new key {next} ({algorithm}) signs from now" : $"; pending key {next} signs from now"
            : "";
        await audit.WriteAsync(new AuditEvent(now, AuditEvents.KeyRevoked, AuditOutcomes.Success, Actor: actor, Detail: keyId + signing), cancellationToken);
        return (new KeyRevocation(keyId, result.SigningKeyId, Unannounced: result.Status == KeyRevocationStatus.RevokedReplacementAdded), null);
    }

    /// <summary>True when the newest key of a purpose is older than the rotation interval (and automatic rotation is on).</summary>
    public async Task<bool> IsRotationDueAsync(CancellationToken cancellationToken) => (await PurposesDueAsync(cancellationToken)).Count > 0;

    private async Task<IReadOnlyList<string>> PurposesDueAsync(CancellationToken cancellationToken)
    {
        TimeSpan interval = options.Value.Keys.RotationInterval;
        if (interval <= TimeSpan.Zero)
            return [];
        // Access tokens signed with an HMAC secret have no stored key to rotate; their id tokens do.
        string[] purposes = JwtAlgorithms.IsHmac(options.Value.SigningAlgorithm)
            ? [SigningKeyPurposes.IdToken]
            : [SigningKeyPurposes.AccessToken, SigningKeyPurposes.IdToken];
        IReadOnlyList<SigningKeyRecord> keys = await store.ListAsync(time.GetUtcNow(), cancellationToken);
        return purposes
            .Where(purpose => keys.Where(k => k.Purpose == purpose).Select(k => (DateTimeOffset?)k.CreatedAt).Max() is { } newest &&
                              newest + interval <= time.GetUtcNow())
            .ToArray();
    }
}
