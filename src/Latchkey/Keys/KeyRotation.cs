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
    DateTimeOffset? StopsSigning, DateTimeOffset? RevokedAt);

/// <summary>What a key revocation did: <paramref name="SigningFromNow"/> is the key that signs from now when that changed, and
/// <paramref name="Unannounced"/> says it was added just now rather than published beforehand.</summary>
public sealed record KeyRevocation(string RevokedKeyId, string? SigningFromNow, bool Unannounced);

/// <summary>
/// Adding and retiring signing keys without a single failed verification, for the CLI, the admin API and the
/// automatic schedule alike. A new key is published at once but signs only after every verifier can have fetched
/// it (ring refresh plus JWKS cache lifetime); the key it replaces stops signing at that same moment.
/// </summary>
internal sealed class KeyRotation(ISigningKeyStore store, MasterKeys masterKeys, AuditTrail audit, IOptions<LatchkeyOptions> options, TimeProvider time)
{
    /// <summary>From publication to first signature: every node has re-read the keys, and every cached JWKS has expired.</summary>
    public TimeSpan PublicationLead => options.Value.Keys.RefreshInterval + options.Value.Keys.JwksCacheLifetime;

    /// <summary>Every key Latchkey has, with its state now.</summary>
    public async Task<IReadOnlyList<SigningKeyInfo>> ListAsync(CancellationToken cancellationToken) =>
        (await AllAsync(cancellationToken)).Select(Describe).ToArray();

    private Task<IReadOnlyList<SigningKeyRecord>> AllAsync(CancellationToken cancellationToken) => store.ListAsync(DateTimeOffset.MinValue, cancellationToken);

    private SigningKeyInfo Describe(SigningKeyRecord k) => new(k.KeyId, k.Algorithm, StateOf(k), k.CreatedAt, k.ActivatesAt, k.RetiredAt, k.RevokedAt);

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
    /// Adds a key of <paramref name="algorithm"/> (default: the configured one) that signs after
    /// <see cref="PublicationLead"/>, and schedules every current key to stop signing at that moment.
    /// <paramref name="actor"/> is audited: <c>cli</c>, <c>scheduler</c>, or an admin's name.
    /// </summary>
    public async Task<SigningKeyInfo> RotateAsync(string? algorithm, string actor, CancellationToken cancellationToken) =>
        Describe((await TryRotateAsync(algorithm, actor, unlessCreatedAfter: null, cancellationToken))!);

    /// <summary>
    /// The automatic schedule: rotates when the newest key is older than <see cref="KeyOptions.RotationInterval"/>, unless
    /// another node has just done it. Returns the new key, or null when no rotation was due or another node made it.
    /// </summary>
    public async Task<SigningKeyRecord?> RotateIfDueAsync(CancellationToken cancellationToken)
    {
        if (!await IsRotationDueAsync(cancellationToken))
            return null;
        return await TryRotateAsync(null, "scheduler", time.GetUtcNow() - options.Value.Keys.RotationInterval, cancellationToken);
    }

    private async Task<SigningKeyRecord?> TryRotateAsync(string? algorithm, string actor, DateTimeOffset? unlessCreatedAfter, CancellationToken cancellationToken)
    {
        LatchkeyOptions o = options.Value;
        algorithm ??= o.SigningAlgorithm;
        if (!JwtAlgorithms.IsSupported(algorithm) || JwtAlgorithms.IsHmac(algorithm))
            throw new ArgumentException($"'{algorithm}' is not an asymmetric algorithm Latchkey generates keys for.", nameof(algorithm));

        IReadOnlyList<SigningKeyRecord> existing = await AllAsync(cancellationToken);
        KeyProtector protector = await masterKeys.LoadAsync(signingKeysExist: existing.Count > 0, cancellationToken);
        DateTimeOffset activatesAt = time.GetUtcNow() + PublicationLead;
        (_, SigningKeyRecord created) = SigningKey.Generate(algorithm, protector, time.GetUtcNow(), activatesAt);
        if (!await store.TryRotateAsync(created, unlessCreatedAfter, cancellationToken))
            return null;

        await audit.WriteAsync(new AuditEvent(time.GetUtcNow(), AuditEvents.KeyRotated, AuditOutcomes.Success, Actor: actor,
            Detail: $"{created.KeyId} ({created.Algorithm}) signs from {created.ActivatesAt.UtcDateTime:O}"), cancellationToken);
        return created;
    }

    /// <summary>
    /// A fresh install's first key, signing at once (no verifier can have cached a key set yet). Null when another node
    /// starting at the same moment stored one first.
    /// </summary>
    internal async Task<SigningKeyRecord?> CreateFirstAsync(string algorithm, KeyProtector protector, CancellationToken cancellationToken)
    {
        (_, SigningKeyRecord record) = SigningKey.Generate(algorithm, protector, time.GetUtcNow(), time.GetUtcNow());
        return await store.TryRotateAsync(record, unlessCreatedAfter: DateTimeOffset.MinValue, cancellationToken) ? record : null;
    }

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
        if (!keys.Any(k => k.KeyId != keyId && k.RevokedAt is null && (k.RetiredAt is null || k.RetiredAt > now)))
            return $"Key '{keyId}' is the only key left to sign with. Run 'latchkey keys rotate' first, then retire it.";
        await store.RetireAsync(keyId, now, cancellationToken);
        await audit.WriteAsync(new AuditEvent(now, AuditEvents.KeyRetired, AuditOutcomes.Success, Actor: actor, Detail: keyId), cancellationToken);
        return null;
    }

    /// <summary>
    /// Revokes a leaked key at once: it stops signing, leaves the JWKS and verifies nothing more, here at the caller's next
    /// ring refresh and on every node at its next revocation sync. If it was signing, another key signs from now: a pending
    /// one brought forward (published already), else a new one, unannounced (an emergency cannot wait for verifiers' caches).
    /// Returns the outcome, or why it was refused. Not for HMAC secrets, which live in configuration.
    /// </summary>
    public async Task<(KeyRevocation? Result, string? Error)> RevokeAsync(string keyId, string actor, CancellationToken cancellationToken)
    {
        LatchkeyOptions o = options.Value;
        if (JwtAlgorithms.IsHmac(o.SigningAlgorithm))
            return (null, "This server signs with Latchkey:HmacSecret, which lives in configuration: replace the secret on every node and verifier instead.");
        DateTimeOffset now = time.GetUtcNow();
        IReadOnlyList<SigningKeyRecord> existing = await AllAsync(cancellationToken);
        // Made before the store decides whether it is needed: generating a key inside its transaction would hold the lock longer.
        string algorithm = existing.FirstOrDefault(k => k.KeyId == keyId)?.Algorithm is { } same && !JwtAlgorithms.IsHmac(same) ? same : o.SigningAlgorithm;
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

    /// <summary>True when the newest key is older than the rotation interval (and automatic rotation is on).</summary>
    public async Task<bool> IsRotationDueAsync(CancellationToken cancellationToken)
    {
        TimeSpan interval = options.Value.Keys.RotationInterval;
        if (interval <= TimeSpan.Zero || JwtAlgorithms.IsHmac(options.Value.SigningAlgorithm))
            return false;
        IReadOnlyList<SigningKeyRecord> keys = await store.ListAsync(time.GetUtcNow(), cancellationToken);
        return keys.Count > 0 && keys.Max(k => k.CreatedAt) + interval <= time.GetUtcNow();
    }
}
