using Latchkey.Clients;
using Latchkey.Protocol;

namespace Latchkey.Endpoints;

/// <summary>
/// A request to <c>/revoke</c> (RFC 7009 §2.1) or <c>/introspect</c> (RFC 7662 §2.1): the token, an optional hint,
/// and the client, authenticated exactly as at <c>/token</c>.
/// </summary>
internal sealed record TokenManagementRequest(string Token, string? Hint, Client Client)
{
    public const string AccessTokenHint = "access_token";
    public const string RefreshTokenHint = "refresh_token";

    public static async Task<(TokenManagementRequest? Request, OAuthError? Error)> ReadAsync(
        HttpRequest http, ClientAuthenticator clients, int maxBytes, CancellationToken cancellationToken)
    {
        (Dictionary<string, string>? form, OAuthError? error) = await FormBody.ReadAsync(http, maxBytes, cancellationToken);
        if (form is null)
            return (null, error);
        (Client? client, error) = await clients.AuthenticateAsync(form.GetValueOrDefault(OAuthParameters.ClientId),
            form.GetValueOrDefault(OAuthParameters.ClientSecret), http.Headers.Authorization, cancellationToken);
        if (client is null)
            return (null, error);
        if (!form.TryGetValue("token", out string? token))
            return (null, OAuthError.InvalidRequest("The token parameter is missing."));
        string? hint = form.GetValueOrDefault("token_type_hint");
        if (hint is not (null or AccessTokenHint or RefreshTokenHint))
            // RFC 7009 §2.2.1 names this error for token types the server does not handle.
            return (null, new OAuthError("unsupported_token_type", "The token_type_hint must be access_token or refresh_token."));
        return (new TokenManagementRequest(token, hint, client), null);
    }
}
