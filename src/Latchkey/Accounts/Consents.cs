using Latchkey.Audit;
using Latchkey.Storage;
using Latchkey.Tokens;

namespace Latchkey.Accounts;

/// <summary>A consent as the CLI and the admin API list it: which client, which scopes, since when.</summary>
public sealed record ConsentEntry(string ClientId, IReadOnlyList<string> Scopes, DateTimeOffset GrantedAt);

/// <summary>
/// What users allowed third-party clients, the one owner of its rules: a consent covers the scopes given (a request for more
/// asks again, and the new answer adds to the old); withdrawing it revokes the refresh tokens the client holds for the user,
/// and the next sign-in asks again. Given, widened and withdrawn consents are audited.
/// </summary>
internal sealed class Consents(IConsentStore store, IUserStore users, IAuthorizationCodeStore codes, RefreshTokenFamilies families, AuditTrail audit,
    TimeProvider time)
{
    /// <summary>True when the user has consented to every one of <paramref name="scopes"/> for the client.</summary>
    public async Task<bool> CoversAsync(string userId, string clientId, IReadOnlyCollection<string> scopes, CancellationToken cancellationToken) =>
        await store.FindAsync(userId, clientId, cancellationToken) is { } consent && scopes.All(s => consent.Scopes.Contains(s, StringComparer.Ordinal));

    /// <summary>Records that the user allowed the client <paramref name="scopes"/>, on top of what they allowed before.</summary>
    public async Task GrantAsync(UserAccount user, string clientId, IReadOnlyCollection<string> scopes, CancellationToken cancellationToken)
    {
        ConsentRecord? earlier = await store.FindAsync(user.Id, clientId, cancellationToken);
        string[] all = [.. (earlier?.Scopes ?? []).Concat(scopes).Distinct(StringComparer.Ordinal)];
        await store.SaveAsync(new ConsentRecord(user.Id, clientId, all, time.GetUtcNow()), cancellationToken);
        await audit.WriteAsync(new AuditEvent(time.GetUtcNow(), AuditEvents.ConsentGranted, AuditOutcomes.Success, Actor: user.Username, Subject: user.Username,
            ClientId: clientId, Detail: "scopes: " + (all.Length == 0 ? "none" : string.Join(",", all))), cancellationToken);
    }

    /// <summary>The user's consents; null when there is no such user.</summary>
    public async Task<IReadOnlyList<ConsentEntry>?> ListAsync(string username, CancellationToken cancellationToken)
    {
        if (await users.FindByUsernameAsync(Usernames.Normalize(username), cancellationToken) is not { } user)
            return null;
        return (await store.ListOfUserAsync(user.Id, cancellationToken)).Select(c => new ConsentEntry(c.ClientId, c.Scopes, c.GrantedAt)).ToArray();
    }

    /// <summary>
    /// Withdraws the user's consent to the client, voids the codes it was sent for them and not yet redeemed, and revokes the
    /// refresh tokens it got for them (its access tokens live out their few minutes). Returns why not
    /// (no such user, no such consent), or null.
    /// </summary>
    public async Task<(string? Error, ChangeFailure? Failure)> RevokeAsync(string username, string clientId, string actor, CancellationToken cancellationToken)
    {
        if (await users.FindByUsernameAsync(Usernames.Normalize(username), cancellationToken) is not { } user)
            return ($"No user named '{username}'.", ChangeFailure.NotFound);
        if (!await store.RemoveAsync(user.Id, clientId, cancellationToken))
            return ($"'{user.Username}' has not consented to client '{clientId}'.", ChangeFailure.NotFound);
        await codes.RemoveUnredeemedAsync(user.Id, clientId, cancellationToken);
        int revoked = await families.RevokeAllOfUserAndClientAsync(user.Id, clientId, RefreshTokenFamilies.Reasons.ConsentWithdrawn, cancellationToken);
        await audit.WriteAsync(new AuditEvent(time.GetUtcNow(), AuditEvents.ConsentRevoked, AuditOutcomes.Success, Actor: actor, Subject: user.Username,
            ClientId: clientId, Detail: $"{revoked} refresh token families revoked"), cancellationToken);
        return (null, null);
    }
}
