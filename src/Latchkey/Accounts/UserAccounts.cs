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
/// Used by the CLI and the admin API alike. Nothing changes unless every check passes.
/// </summary>
public sealed class UserAccounts(IUserStore users, IRefreshTokenStore refreshTokens, PasswordHasher hasher, TimeProvider time)
{
    public Task<IReadOnlyList<UserRecord>> ListAsync(CancellationToken cancellationToken) => users.ListAsync(cancellationToken);

    public async Task<AccountResult> AddAsync(string username, string password, IEnumerable<string> roles, CancellationToken cancellationToken)
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
        return await users.TryAddAsync(user, cancellationToken)
            ? AccountResult.Ok(user)
            : AccountResult.Fail($"A user named '{name}' already exists.", ChangeFailure.Conflict);
    }

    public async Task<AccountResult> SetPasswordAsync(string username, string password, CancellationToken cancellationToken)
    {
        if (CheckPassword(password) is { } passwordError)
            return AccountResult.Fail(passwordError);
        string name = Usernames.Normalize(username);
        return await users.SetPasswordHashAsync(name, hasher.Hash(password), time.GetUtcNow(), cancellationToken)
            ? await FoundAsync(name, cancellationToken)
            : NotFound(username);
    }

    /// <summary>Disabling also revokes every refresh token of the user, so no session outlives it by more than an access token.</summary>
    public async Task<AccountResult> SetDisabledAsync(string username, bool disabled, CancellationToken cancellationToken)
    {
        string name = Usernames.Normalize(username);
        if (!await users.SetDisabledAsync(name, disabled, cancellationToken))
            return NotFound(username);
        AccountResult result = await FoundAsync(name, cancellationToken);
        if (disabled && result.User is { } user)
            await refreshTokens.RevokeFamiliesOfUserAsync(user.Id, time.GetUtcNow(), cancellationToken);
        return result;
    }

    public async Task<AccountResult> ChangeRolesAsync(string username, IEnumerable<string> add, IEnumerable<string> remove, CancellationToken cancellationToken)
    {
        if (CheckRoles(add) is { } roleError)
            return AccountResult.Fail(roleError);
        string name = Usernames.Normalize(username);
        UserRecord? user = await users.FindByUsernameAsync(name, cancellationToken);
        if (user is null)
            return NotFound(username);
        string[] roles = user.Roles.Except(remove, StringComparer.Ordinal).Concat(add).Distinct(StringComparer.Ordinal).ToArray();
        return await users.SetRolesAsync(name, roles, cancellationToken) ? AccountResult.Ok(user with { Roles = roles }) : NotFound(username);
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

    private async Task<AccountResult> FoundAsync(string name, CancellationToken cancellationToken) =>
        await users.FindByUsernameAsync(name, cancellationToken) is { } user ? AccountResult.Ok(user) : NotFound(name);

    private static AccountResult NotFound(string username) => AccountResult.Fail($"No user named '{username}'.", ChangeFailure.NotFound);
}
