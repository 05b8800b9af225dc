using Latchkey.Audit;
using Latchkey.Storage;

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
public sealed record AccountResult(UserRecord? User, string? Error, ChangeFailure? Failure = null)
{
    public bool Succeeded => Error is null;

    public static AccountResult Ok(UserRecord user) => new(user, null);

    public static AccountResult Fail(string error, ChangeFailure failure = ChangeFailure.Invalid) => new(null, error, failure);
}

/// <summary>
/// Creating and changing user accounts, with every rule on names, roles and passwords in one place.
/// Used by the CLI and the admin API alike. Nothing changes unless every check passes. Every change is audited with its
/// <c>actor</c>: the admin's name for the admin API, <c>cli</c> for <c>latchkey users</c>.
/// </summary>
public sealed class UserAccounts(IUserStore users, IRefreshTokenStore refreshTokens, PasswordHasher hasher, AuditTrail audit, TimeProvider time)
{
    public Task<IReadOnlyList<UserRecord>> ListAsync(CancellationToken cancellationToken) => users.ListAsync(cancellationToken);

    public async Task<AccountResult> AddAsync(string username, string password, IEnumerable<string> roles, string actor, CancellationToken cancellationToken)
    {
        string name = Usernames.Normalize(username);
        if (!Usernames.IsValid(name))
            return AccountResult.Fail($"'{username}' is not a valid username: use 1 to {Usernames.MaximumLength} ASCII letters, digits or . _ - @ +.");
        if (CheckRoles(roles) is { } roleError)
            return AccountResult.Fail(roleError);
        if (CheckPassword(password) is { } passwordError)
            return AccountResult.Fail(passwordError);

        DateTimeOffset now = time.GetUtcNow();
        var user = new UserRecord(
            Id: Guid.CreateVersion7(now).ToString(),
            Username: name,
            PasswordHash: hasher.Hash(password),
            Roles: roles.Distinct(StringComparer.Ordinal).ToArray(),
            Disabled: false,
            CreatedAt: now,
            PasswordChangedAt: now);
        if (!await users.TryAddAsync(user, cancellationToken))
            return AccountResult.Fail($"A user named '{name}' already exists.", ChangeFailure.Conflict);
        await AuditAsync(AuditEvents.UserAdded, actor, name, DescribeRoles(user.Roles), cancellationToken);
        return AccountResult.Ok(user);
    }

    public async Task<AccountResult> SetPasswordAsync(string username, string password, string actor, CancellationToken cancellationToken)
    {
        if (CheckPassword(password) is { } passwordError)
            return AccountResult.Fail(passwordError);
        string name = Usernames.Normalize(username);
        if (!await users.SetPasswordHashAsync(name, hasher.Hash(password), time.GetUtcNow(), cancellationToken))
            return NotFound(username);
        await AuditAsync(AuditEvents.UserPasswordSet, actor, name, null, cancellationToken);
        return await FoundAsync(name, cancellationToken);
    }

    /// <summary>Disabling also revokes every refresh token of the user, so no session outlives it by more than an access token.</summary>
    public async Task<AccountResult> SetDisabledAsync(string username, bool disabled, string actor, CancellationToken cancellationToken)
    {
        string name = Usernames.Normalize(username);
        if (!await users.SetDisabledAsync(name, disabled, cancellationToken))
            return NotFound(username);
        await AuditAsync(disabled ? AuditEvents.UserDisabled : AuditEvents.UserEnabled, actor, name, null, cancellationToken);
        AccountResult result = await FoundAsync(name, cancellationToken);
        if (disabled && result.User is { } user)
        {
            int revoked = await refreshTokens.RevokeFamiliesOfUserAsync(user.Id, time.GetUtcNow(), cancellationToken);
            if (revoked > 0)
                await AuditAsync(AuditEvents.FamilyRevoked, actor, name, $"{revoked} refresh token families: user disabled", cancellationToken);
        }

        return result;
    }

    public async Task<AccountResult> ChangeRolesAsync(string username, IEnumerable<string> add, IEnumerable<string> remove, string actor,
        CancellationToken cancellationToken)
    {
        if (CheckRoles(add) is { } roleError)
            return AccountResult.Fail(roleError);
        string name = Usernames.Normalize(username);
        UserRecord? user = await users.FindByUsernameAsync(name, cancellationToken);
        if (user is null)
            return NotFound(username);
        string[] roles = user.Roles.Except(remove, StringComparer.Ordinal).Concat(add).Distinct(StringComparer.Ordinal).ToArray();
        if (!await users.SetRolesAsync(name, roles, cancellationToken))
            return NotFound(username);
        await AuditAsync(AuditEvents.UserRolesChanged, actor, name, DescribeRoles(roles), cancellationToken);
        return AccountResult.Ok(user with { Roles = roles });
    }

    /// <summary>Why <paramref name="password"/> cannot be used, or null when it can.</summary>
    public static string? CheckPassword(string password) => password.Length switch
    {
        < PasswordHasher.MinimumPasswordLength => $"The password must have at least {PasswordHasher.MinimumPasswordLength} characters.",
        > PasswordHasher.MaximumPasswordLength => $"The password must have at most {PasswordHasher.MaximumPasswordLength} characters.",
        _ => null,
    };

    private static string? CheckRoles(IEnumerable<string> roles) =>
        roles.FirstOrDefault(r => !Roles.IsValid(r)) is { } bad
            ? $"'{bad}' is not a valid role: use 1 to 64 ASCII letters, digits or . _ - :."
            : null;

    private static string DescribeRoles(IReadOnlyCollection<string> roles) => "roles: " + (roles.Count == 0 ? "none" : string.Join(",", roles));

    private Task AuditAsync(string type, string actor, string username, string? detail, CancellationToken cancellationToken) =>
        audit.WriteAsync(new AuditEvent(time.GetUtcNow(), type, "success", Actor: actor, Subject: username, Detail: detail), cancellationToken);

    private async Task<AccountResult> FoundAsync(string name, CancellationToken cancellationToken) =>
        await users.FindByUsernameAsync(name, cancellationToken) is { } user ? AccountResult.Ok(user) : NotFound(name);

    private static AccountResult NotFound(string username) => AccountResult.Fail($"No user named '{username}'.", ChangeFailure.NotFound);
}
