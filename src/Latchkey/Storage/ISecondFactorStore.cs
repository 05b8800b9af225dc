namespace Latchkey.Storage;

/// <summary>
/// A user's authenticator app: its TOTP secret (encrypted), whether its enrolment was confirmed with a first code, and the
/// last time step a code was accepted for (RFC 6238 §5.2: a code is accepted once).
/// </summary>
public sealed record TotpFactorRecord(string UserId, byte[] ProtectedSecret, DateTimeOffset CreatedAt, DateTimeOffset? ConfirmedAt, long LastStep,
    DateTimeOffset? LastUsedAt);

/// <summary>
/// A passkey (a WebAuthn credential): its id and public key as the authenticator made them, the signature counter it last
/// reported, whether it can be (and is) synced between devices, its transports (space-separated hints for the browser).
/// </summary>
public sealed record PasskeyRecord(byte[] CredentialId, string UserId, string Name, byte[] PublicKey, uint SignCount, bool BackupEligible, bool BackedUp,
    string Transports, DateTimeOffset CreatedAt, DateTimeOffset? LastUsedAt);

/// <summary>
/// Users' second factors: their authenticator app (<see cref="TotpFactorRecord"/>), their recovery codes, by hash, and their
/// passkeys (<see cref="PasskeyRecord"/>), which are a first factor too.
/// </summary>
public interface ISecondFactorStore
{
    Task<TotpFactorRecord?> FindTotpAsync(string userId, CancellationToken cancellationToken);

    /// <summary>Stores a new, unconfirmed enrolment, replacing an unconfirmed one; false when the user has a confirmed one.</summary>
    Task<bool> BeginTotpAsync(TotpFactorRecord factor, CancellationToken cancellationToken);

    /// <summary>
    /// Accepts a code of time step <paramref name="step"/>: confirms the enrolment when <paramref name="confirming"/>, else
    /// needs it confirmed; and only when no code of this step or a later one was accepted before (one statement, so two
    /// requests with the same code cannot both pass). False when refused.
    /// </summary>
    Task<bool> UseTotpStepAsync(string userId, long step, bool confirming, DateTimeOffset at, CancellationToken cancellationToken,
        DateTimeOffset? enrolledAt = null);

    /// <summary>
    /// Counts a code attempt before it is checked, across every address: the wrong codes in a row, unless
    /// <paramref name="max"/> were reached and the last came after <paramref name="lockedSince"/> (then null: locked). A success sets it back (<see cref="ClearFailuresAsync"/>).
    /// </summary>
    Task<long?> StartCodeAttemptAsync(string userId, int max, DateTimeOffset lockedSince, DateTimeOffset at, CancellationToken cancellationToken);

    Task ClearFailuresAsync(string userId, CancellationToken cancellationToken);

    /// <summary>Removes the authenticator app; false when there was none.</summary>
    Task<bool> RemoveTotpAsync(string userId, CancellationToken cancellationToken);

    /// <summary>Replaces the user's recovery codes with these (their hashes), in one transaction.</summary>
    Task ReplaceRecoveryCodesAsync(string userId, IReadOnlyList<string> codeHashes, DateTimeOffset at, CancellationToken cancellationToken);

    /// <summary>Spends an unused recovery code; false when it is not one of the user's, or was used already.</summary>
    Task<bool> UseRecoveryCodeAsync(string userId, string codeHash, DateTimeOffset at, CancellationToken cancellationToken);

    Task<int> CountUnusedRecoveryCodesAsync(string userId, CancellationToken cancellationToken);

    /// <summary>Removes every second factor and recovery code of the user (an admin's reset); returns how many rows went.</summary>
    Task<int> RemoveAllAsync(string userId, CancellationToken cancellationToken);

    /// <summary>Stores a new passkey; false when a credential with its id is stored already.</summary>
    Task<bool> AddPasskeyAsync(PasskeyRecord passkey, CancellationToken cancellationToken);

    Task<PasskeyRecord?> FindPasskeyAsync(byte[] credentialId, CancellationToken cancellationToken);

    Task<IReadOnlyList<PasskeyRecord>> ListPasskeysAsync(string userId, CancellationToken cancellationToken);

    /// <summary>
    /// Records a use of the passkey: its new counter and backup state, only if its counter is still
    /// <paramref name="storedCount"/> (one statement: two assertions checked against the same counter cannot both pass).
    /// </summary>
    Task<bool> UsePasskeyAsync(byte[] credentialId, uint storedCount, uint newCount, bool backedUp, DateTimeOffset at, CancellationToken cancellationToken);

    Task<bool> RenamePasskeyAsync(string userId, byte[] credentialId, string name, CancellationToken cancellationToken);

    /// <summary>Removes one of the user's passkeys; false when they have none with that id.</summary>
    Task<bool> RemovePasskeyAsync(string userId, byte[] credentialId, CancellationToken cancellationToken);

    /// <summary>
    /// Takes a WebAuthn challenge, once: false when it was taken before (a replay). Kept until <paramref name="expiresAt"/>,
    /// after which the ceremony it belongs to is refused anyway.
    /// </summary>
    Task<bool> UseChallengeAsync(string challenge, DateTimeOffset expiresAt, DateTimeOffset now, CancellationToken cancellationToken);
}
