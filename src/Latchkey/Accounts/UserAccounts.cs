using Latchkey.Audit;
using Latchkey.Storage;
using Latchkey.Tokens;

namespace Latchkey.Accounts;

/// <summary>Why an account or client change was refused, so that each caller can answer in its own terms (HTTP status, exit code).</summary>
public enum ChangeFailure
{
    /// <summary>The input breaks a rule (name, role, password, grant, scope).</summary>
    Invalid,

    /// <summary>No user or client has that name.</summary>
    NotFound,

    /// <summary>The name is taken.</summary>
    Conflict,
}

/// <summary>The outcome of an account change: the account as it now is, or why nothing changed.</summary>
public sealed record AccountResult(UserAccount? User, string? Error, ChangeFailure? Failure = null)
{
    public bool Succeeded => Error is null;

    internal static AccountResult Ok(UserRecord user) => new(UserAccount.From(user), null);

    public static AccountResult Fail(string error, ChangeFailure failure = ChangeFailure.Invalid) => new(null, error, failure);
}

/// <summary>
/// Creating and changing user accounts, with every rule on names, roles and passwords in one place.
/// Used by the CLI and the admin API alike. Nothing changes unless every check passes. Every change is audited with its
/// <c>actor</c>: the admin's name for the admin API, <c>cli</c> for <c>latchkey users</c>.
/// Disabling a user, changing their roles or password, and logging them out end everything they hold: their tokens issued
/// until then are refused by Latchkey's own endpoints (at once on this node, on every node within
/// <see cref="LatchkeyOptions.RevocationRefreshInterval"/>), and every refresh-token family and browser sign-in session of theirs ends.
/// </summary>
internal sealed class UserAccounts(IUserStore users, RefreshTokenFamilies families, LoginSessions sessions, Revocations revocations, PasswordHasher hasher,
    SecondFactors factors, AuditTrail audit, TimeProvider time)
{
    public async Task<IReadOnlyList<UserAccount>> ListAsync(CancellationToken cancellationToken) =>
        (await users.ListAsync(cancellationToken)).Select(UserAccount.From).ToArray();

    /// <summary>The account named <paramref name="username"/> (normalized as logins are), or null.</summary>
    public async Task<UserAccount?> FindAsync(string username, CancellationToken cancellationToken) =>
        await users.FindByUsernameAsync(Usernames.Normalize(username), cancellationToken) is { } user ? UserAccount.From(user) : null;

    /// <summary>The account whose id (a token's <c>sub</c>) is <paramref name="id"/>, or null.</summary>
    public async Task<UserAccount?> FindByIdAsync(string id, CancellationToken cancellationToken) =>
        await users.FindByIdAsync(id, cancellationToken) is { } user ? UserAccount.From(user) : null;

    public async Task<AccountResult> AddAsync(string username, string password, IEnumerable<string> roles, string actor, CancellationToken cancellationToken,
        UserProfile? profile = null)
    {
        profile ??= UserProfile.None;
        string name = Usernames.Normalize(username);
        if (!Usernames.IsValid(name))
            return AccountResult.Fail($"'{username}' is not a valid username: use 1 to {Usernames.MaximumLength} ASCII letters, digits or . _ - @ +.");
        if (CheckRoles(roles) is { } roleError)
            return AccountResult.Fail(roleError);
        if (CheckPassword(password) is { } passwordError)
            return AccountResult.Fail(passwordError);
        if (profile.Problem() is { } profileError)
            return AccountResult.Fail(profileError);

        DateTimeOffset now = time.GetUtcNow();
        var user = new UserRecord(
            Id: Guid.CreateVersion7(now).ToString(),
            Username: name,
            PasswordHash: hasher.Hash(password),
            Roles: roles.Distinct(StringComparer.Ordinal).ToArray(),
            Disabled: false,
            CreatedAt: now,
            PasswordChangedAt: now)
        {
            Email = profile.Email,
            EmailVerified = profile.Email is not null && profile.EmailVerified,
            Name = profile.Name,
        };
        if (!await users.TryAddAsync(user, cancellationToken))
            return AccountResult.Fail($"A user named '{name}' already exists.", ChangeFailure.Conflict);
        await AuditAsync(AuditEvents.UserAdded, actor, name, DescribeRoles(user.Roles), cancellationToken);
        return AccountResult.Ok(user);
    }

    /// <summary>
    /// Sets the user's e-mail address and name (what OpenID Connect's <c>email</c> and <c>profile</c> scopes show apps). Their
    /// tokens stay valid: new id tokens and <c>/userinfo</c> show the change.
    /// </summary>
    public async Task<AccountResult> SetProfileAsync(string username, UserProfile profile, string actor, CancellationToken cancellationToken)
    {
        if (profile.Problem() is { } profileError)
            return AccountResult.Fail(profileError);
        return await ChangeAsync(username, u => u with { Email = profile.Email, EmailVerified = profile.Email is not null && profile.EmailVerified, Name = profile.Name },
            endSessions: false, actor, AuditEvents.UserProfileChanged,
            u => $"email: {u.Email ?? "none"}{(u.EmailVerified ? " (verified)" : "")}; name: {(u.Name is null ? "none" : "set")}", "profile changed", cancellationToken);
    }

    /// <summary>Sets the password; the user's tokens and logins until now end (someone else may have known the old one).</summary>
    public async Task<AccountResult> SetPasswordAsync(string username, string password, string actor, CancellationToken cancellationToken)
    {
        if (CheckPassword(password) is { } passwordError)
            return AccountResult.Fail(passwordError);
        string hash = hasher.Hash(password);
        DateTimeOffset now = time.GetUtcNow();
        return await ChangeAsync(username, u => u with { PasswordHash = hash, PasswordChangedAt = now }, endSessions: true, actor,
            AuditEvents.UserPasswordSet, _ => null, "password changed", cancellationToken);
    }

    /// <summary>Disabling ends the user's tokens and logins at once; enabling gives nothing back (they log in again).</summary>
    public Task<AccountResult> SetDisabledAsync(string username, bool disabled, string actor, CancellationToken cancellationToken) =>
        ChangeAsync(username, u => u with { Disabled = disabled }, endSessions: disabled, actor,
            disabled ? AuditEvents.UserDisabled : AuditEvents.UserEnabled, _ => null, "user disabled", cancellationToken);

    /// <summary>
    /// Adds and removes roles atomically (concurrent changes never lose one another's). A change ends the user's tokens, which
    /// carry the roles they had, and logins; with nothing to add or remove, this only reads the roles.
    /// </summary>
    public async Task<AccountResult> ChangeRolesAsync(string username, IEnumerable<string> add, IEnumerable<string> remove, string actor,
        CancellationToken cancellationToken)
    {
        string[] adding = add.ToArray();
        string[] removing = remove.ToArray();
        if (CheckRoles(adding) is { } roleError)
            return AccountResult.Fail(roleError);
        string[] NewRoles(UserRecord u) => u.Roles.Except(removing, StringComparer.Ordinal).Concat(adding).Distinct(StringComparer.Ordinal).ToArray();
        if (adding.Length == 0 && removing.Length == 0)
            return await users.FindByUsernameAsync(Usernames.Normalize(username), cancellationToken) is { } user ? AccountResult.Ok(user) : NotFound(username);
        return await ChangeAsync(username, u => u with { Roles = NewRoles(u) }, endSessions: true, actor,
            AuditEvents.UserRolesChanged, u => DescribeRoles(u.Roles), "roles changed", cancellationToken);
    }

    /// <summary>
    /// Removes the user's second factors and recovery codes, for a user who lost them, once who they are has been checked
    /// another way, and ends their sessions and tokens. Audited with <paramref name="actor"/>. At their next sign-in the
    /// password alone gets them in, or, when two factors are required of them, takes them through setting one up.
    /// </summary>
    public async Task<AccountResult> ResetSecondFactorsAsync(string username, string actor, CancellationToken cancellationToken)
    {
        if (await users.FindByUsernameAsync(Usernames.Normalize(username), cancellationToken) is not { } user)
            return NotFound(username);
        await factors.ResetAsync(UserAccount.From(user), actor, cancellationToken);
        // Sessions and tokens that claim the removed factor (amr otp, mfa) end with it.
        return await EndSessionsAsync(username, actor, "second factors reset", cancellationToken);
    }

    /// <summary>
    /// Ends every session and token of the user (as a logout does) because how they sign in changed (<paramref name="why"/>):
    /// a second factor turned on or off. The caller gives its own browser a new session (<see cref="LoginSessions.RenewAsync"/>).
    /// </summary>
    public Task<AccountResult> EndSessionsAsync(string username, string actor, string why, CancellationToken cancellationToken) =>
        ChangeAsync(username, u => u, endSessions: true, actor, AuditEvents.UserLoggedOut, _ => why, why, cancellationToken);

    /// <summary>Logs the user out everywhere: every token issued until now is refused by Latchkey, every login's refresh tokens revoked.</summary>
    public Task<AccountResult> LogoutAsync(string username, string actor, CancellationToken cancellationToken) =>
        ChangeAsync(username, u => u, endSessions: true, actor, AuditEvents.UserLoggedOut, _ => null, "logged out", cancellationToken);

    /// <summary>Why <paramref name="password"/> cannot be used, or null when it can.</summary>
    public static string? CheckPassword(string password) => password.Length switch
    {
        < PasswordHasher.MinimumPasswordLength => $"The password must have at least {PasswordHasher.MinimumPasswordLength} characters.",
        > PasswordHasher.MaximumPasswordLength => $"The password must have at most {PasswordHasher.MaximumPasswordLength} characters.",
        _ => null,
    };

    /// <summary>
    /// One change, atomically in the store, with the cut-off of the user's tokens in the same transaction when
    /// <paramref name="endSessions"/>; then the cut-off applies on this node at once, the user's refresh families are revoked
    /// (a refresh of one that survived a failure here is refused all the same: it began before the cut-off), and it is audited.
    /// </summary>
    private async Task<AccountResult> ChangeAsync(string username, Func<UserRecord, UserRecord> change, bool endSessions, string actor, string auditType,
        Func<UserRecord, string?> describe, string why, CancellationToken cancellationToken)
    {
        string name = Usernames.Normalize(username);
        DateTimeOffset now = time.GetUtcNow();
        Revocation? cutOff = null;
        if (endSessions)
        {
            // The cut-off names the user by id; ids never change, so it can be read before the change.
            if (await users.FindByUsernameAsync(name, cancellationToken) is not { } found)
                return NotFound(username);
            cutOff = Revocation.Of(RevocationKinds.User, found.Id, now);
        }

        UserUpdate? update = await users.UpdateAsync(name, change, cutOff, cancellationToken);
        if (update is null)
            return NotFound(username);
        UserRecord after = update.After;
        if (cutOff is not null)
        {
            // A login that read the account before the change committed began before this moment: move the cut-off here, so
            // that its tokens are refused too (the first cut-off, in the change's own transaction, holds if this step fails).
            Revocation settled = Revocation.Of(RevocationKinds.User, after.Id, time.GetUtcNow());
            if (settled.At > cutOff.At)
            {
                await users.ExtendCutOffAsync(settled, cancellationToken);
                (cutOff, after) = (settled, after with { TokensValidAfter = settled.At });
            }

            revocations.Apply(cutOff);
        }

        await AuditAsync(auditType, actor, name, describe(after), cancellationToken);
        if (cutOff is not null)
        {
            int revoked = await families.RevokeAllOfUserAsync(after.Id, cutOff.At, cancellationToken);
            int ended = await sessions.EndAllOfUserAsync(after.Id, cutOff.At, cancellationToken);
            await AuditAsync(AuditEvents.TokensCutOff, actor, name,
                $"tokens issued until {cutOff.At.UtcDateTime:O} refused; {revoked} refresh token families revoked; {ended} sign-in sessions ended: {why}",
                cancellationToken);
        }

        return AccountResult.Ok(after);
    }

    private static string? CheckRoles(IEnumerable<string> roles) =>
        roles.FirstOrDefault(r => !Roles.IsValid(r)) is { } bad
            ? $"'{bad}' is not a valid role: use 1 to 64 ASCII letters, digits or . _ - :."
            : null;

    private static string DescribeRoles(IReadOnlyCollection<string> roles) => "roles: " + (roles.Count == 0 ? "none" : string.Join(",", roles));

    private Task AuditAsync(string type, string actor, string username, string? detail, CancellationToken cancellationToken) =>
        audit.WriteAsync(new AuditEvent(time.GetUtcNow(), type, AuditOutcomes.Success, Actor: actor, Subject: username, Detail: detail), cancellationToken);

    private static AccountResult NotFound(string username) => AccountResult.Fail($"No user named '{username}'.", ChangeFailure.NotFound);
}

/// <summary>
/// What OpenID Connect's <c>email</c> and <c>profile</c> scopes show apps about a user: an e-mail address (and whether the admin
/// who gave it checked it is theirs: <c>email_verified</c>), and a full name. All optional.
/// </summary>
public sealed record UserProfile(string? Email, string? Name, bool EmailVerified = false)
{
    public static readonly UserProfile None = new(null, null);

    /// <summary>Why the profile cannot be stored, or null.</summary>
    internal string? Problem()
    {
        if (Email is not null && (Email.Length > 254 || Email.IndexOf('@') is <= 0 || Email.IndexOf('@') == Email.Length - 1 ||
            Email.Any(c => char.IsWhiteSpace(c) || char.IsControl(c))))
            return $"'{Email}' is not an e-mail address.";
        if (Name is not null && (Name.Length is 0 or > 128 || Name.Any(char.IsControl)))
            return "The name must be 1 to 128 characters, without control characters.";
        if (EmailVerified && Email is null)
            return "--email-verified needs an --email.";
        return null;
    }
}
