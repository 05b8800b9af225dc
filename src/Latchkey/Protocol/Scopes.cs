namespace Latchkey.Protocol;

/// <summary>Scope values (RFC 6749 §3.3): <c>scope-token = 1*( %x21 / %x23-5B / %x5D-7E )</c>.</summary>
public static class Scopes
{
    /// <summary>
    /// The reserved scope of Latchkey's admin plane. A token requested with it is for Latchkey alone: its audience is
    /// Latchkey's issuer URL and nothing else, so no API that receives ordinary tokens can replay it at <c>/admin</c>; and
    /// only such a token opens <c>/admin</c>. Only clients allowed this scope may ask for it, for a user whose roles
    /// include <c>admin</c>, and never together with other scopes.
    /// </summary>
    public const string Admin = "latchkey:admin";

    /// <summary>OpenID Connect: an id token is issued (Core §3.1.2.1).</summary>
    public const string OpenId = "openid";

    /// <summary>OpenID Connect: the id token and <c>/userinfo</c> describe the user's profile (Core §5.4).</summary>
    public const string Profile = "profile";

    /// <summary>OpenID Connect: the id token and <c>/userinfo</c> give the user's e-mail address (Core §5.4).</summary>
    public const string Email = "email";

    /// <summary>The scopes OpenID Connect defines, which every client with the authorization code grant may ask for besides its own.</summary>
    public static readonly IReadOnlyList<string> OpenIdConnect = [OpenId, Profile, Email];

    /// <summary>True when the space-separated <paramref name="scope"/> holds <see cref="Admin"/>.</summary>
    public static bool IncludesAdmin(string? scope)
    {
        if (scope is null || !scope.Contains(Admin, StringComparison.Ordinal))
            return false;
        foreach (Range value in scope.AsSpan().Split(' '))
        {
            if (scope.AsSpan(value).SequenceEqual(Admin))
                return true;
        }

        return false;
    }

    public static bool IsValid(string scope) =>
        scope.Length is > 0 and <= 128 && scope.All(c => c is '!' or (>= '#' and <= '[') or (>= ']' and <= '~'));

    /// <summary>The scope parameter for <paramref name="scopes"/>: space-separated, or null when there are none.</summary>
    public static string? Join(IReadOnlyCollection<string> scopes) => scopes.Count > 0 ? string.Join(' ', scopes) : null;

    /// <summary>Splits a scope parameter; null when it holds anything but valid scope tokens separated by single spaces.</summary>
    public static IReadOnlyList<string>? Parse(string? scope)
    {
        if (scope is null)
            return [];
        string[] values = scope.Split(' ');
        return values.All(IsValid) ? values.Distinct(StringComparer.Ordinal).ToArray() : null;
    }
}
