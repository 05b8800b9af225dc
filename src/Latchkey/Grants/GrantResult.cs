using Latchkey.Protocol;

namespace Latchkey.Grants;

/// <summary>What a token request comes to: a token response, or an OAuth error. Never both.</summary>
public readonly record struct GrantResult(TokenResponse? Response, OAuthError? Error)
{
    public static implicit operator GrantResult(TokenResponse response) => new(response, null);

    public static implicit operator GrantResult(OAuthError error) => new(null, error);
}
