using System.Net;
using Latchkey.Protocol;

namespace Latchkey.Grants;

/// <summary>
/// A token request (RFC 6749 §4.3.2, §4.4.2, §6), parsed once from the form, so that no grant ever reads the raw
/// request. Empty parameters are absent (§3.2).
/// </summary>
public sealed record TokenRequest
{
    public required string GrantType { get; init; }
    public string? Username { get; init; }
    public string? Password { get; init; }
    public string? Scope { get; init; }
    public string? ClientId { get; init; }
    public string? ClientSecret { get; init; }
    public string? RefreshToken { get; init; }
    public string? Code { get; init; }
    public string? RedirectUri { get; init; }
    public string? CodeVerifier { get; init; }

    /// <summary>The caller's address, for login throttling.</summary>
    public IPAddress? ClientAddress { get; init; }

    /// <summary>The scope values requested (RFC 6749 §3.3); null when the scope parameter is malformed.</summary>
    public IReadOnlyList<string>? Scopes => Protocol.Scopes.Parse(Scope);

    /// <summary>Builds the request from the parsed form, or says what is missing.</summary>
    internal static (TokenRequest? Request, OAuthError? Error) From(IReadOnlyDictionary<string, string> form, IPAddress? clientAddress)
    {
        if (!form.TryGetValue(OAuthParameters.GrantType, out string? grantType))
            return (null, OAuthError.InvalidRequest("The grant_type parameter is missing."));

        return (new TokenRequest
        {
            GrantType = grantType,
            Username = form.GetValueOrDefault(OAuthParameters.Username),
            Password = form.GetValueOrDefault(OAuthParameters.Password),
            Scope = form.GetValueOrDefault(OAuthParameters.Scope),
            ClientId = form.GetValueOrDefault(OAuthParameters.ClientId),
            ClientSecret = form.GetValueOrDefault(OAuthParameters.ClientSecret),
            RefreshToken = form.GetValueOrDefault(OAuthParameters.RefreshToken),
            Code = form.GetValueOrDefault(OAuthParameters.Code),
            RedirectUri = form.GetValueOrDefault(OAuthParameters.RedirectUri),
            CodeVerifier = form.GetValueOrDefault(OAuthParameters.CodeVerifier),
            ClientAddress = clientAddress,
        }, null);
    }
}
