using Latchkey.Storage;

namespace Latchkey.Accounts;

/// <summary>
/// A user account as everything outside <c>Accounts</c> sees it: never the password hash. <see cref="Id"/> never changes
/// and is the token's <c>sub</c>; Latchkey refuses this user's tokens issued at or before <see cref="TokensValidAfter"/>.
/// </summary>
public sealed record UserAccount(string Id, string Username, IReadOnlyList<string> Roles, bool Disabled, DateTimeOffset CreatedAt,
    DateTimeOffset PasswordChangedAt, DateTimeOffset? TokensValidAfter)
{
    internal static UserAccount From(UserRecord user) =>
        new(user.Id, user.Username, user.Roles, user.Disabled, user.CreatedAt, user.PasswordChangedAt, user.TokensValidAfter);
}
