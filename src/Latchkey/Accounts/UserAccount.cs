using Latchkey.Storage;

namespace Latchkey.Accounts;

/// <summary>
/// A user account as everything outside <c>Accounts</c> sees it: never the password hash. <see cref="Id"/> never changes
/// and is the token's <c>sub</c>; Latchkey refuses this user's tokens issued at or before <see cref="TokensValidAfter"/>.
/// </summary>
public sealed record UserAccount(string Id, string Username, IReadOnlyList<string> Roles, bool Disabled, DateTimeOffset CreatedAt,
    DateTimeOffset PasswordChangedAt, DateTimeOffset? TokensValidAfter)
{
    /// <summary>The e-mail address an admin gave, if any, and whether they checked it is the user's.</summary>
    public string? Email { get; init; }
    public bool EmailVerified { get; init; }

    /// <summary>The user's full name, if given.</summary>
    public string? Name { get; init; }

    internal static UserAccount From(UserRecord user) =>
        new(user.Id, user.Username, user.Roles, user.Disabled, user.CreatedAt, user.PasswordChangedAt, user.TokensValidAfter)
        {
            Email = user.Email,
            EmailVerified = user.EmailVerified,
            Name = user.Name,
        };
}
