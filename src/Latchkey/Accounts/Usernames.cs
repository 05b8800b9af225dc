namespace Latchkey.Accounts;

/// <summary>
/// Usernames are case-insensitive: "Alice" and "alice" are one account, so nobody can register a look-alike.
/// They are stored and compared lower-case.
/// </summary>
public static class Usernames
{
    public const int MaximumLength = 128;

    public static string Normalize(string username) => username.Trim().ToLowerInvariant();

    /// <summary>Letters, digits and <c>. _ - @ +</c> (so e-mail addresses work), 1 to 128 characters.</summary>
    public static bool IsValid(string normalized) =>
        normalized.Length is > 0 and <= MaximumLength &&
        normalized.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '.' or '_' or '-' or '@' or '+');
}

/// <summary>Role names: 1 to 64 of letters, digits and <c>. _ - :</c>.</summary>
public static class Roles
{
    public const string Admin = "admin";

    public static bool IsValid(string role) =>
        role.Length is > 0 and <= 64 && role.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-' or ':');
}
