using Latchkey.Accounts;
using Latchkey.Clients;
using Latchkey.Protocol;
using Latchkey.Tokens;

namespace Latchkey.Grants;

/// <summary>
/// The authorization code grant (RFC 6749 §4.1.3) with PKCE (RFC 7636, required for every client: RFC 9700 §2.1.1). The
/// code is redeemed once, by the client it was issued to, with the same <c>redirect_uri</c> and the verifier of its
/// challenge; its sign-in session must still be live and its user enabled. With <c>openid</c> in the scope an id token comes
/// with the access token; a client that may use <c>refresh_token</c> gets one, starting a login (a refresh family).
/// </summary>
internal sealed class AuthorizationCodeGrant(AuthorizationCodes codes, LoginSessions sessions) : IGrant
{
    public async Task<GrantDecision> DecideAsync(TokenRequest request, Client client, IReadOnlyList<string> scopes, CancellationToken cancellationToken)
    {
        if (request.Code is null)
            return OAuthError.InvalidRequest("The authorization_code grant needs code.");
        if (request.CodeVerifier is null)
            return OAuthError.InvalidRequest("The code_verifier parameter is missing: PKCE is required (RFC 7636).");
        if (!Pkce.IsWellFormed(request.CodeVerifier))
            return OAuthError.InvalidRequest("The code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~ (RFC 7636 §4.1).");
        CodeRedeemed redeemed = await codes.RedeemAsync(request.Code, client.ClientId, request.RedirectUri, request.CodeVerifier, request.ClientAddress,
            cancellationToken);
        if (redeemed.Binding is not { } code)
            return InvalidGrant(redeemed.Refusal!);
        if (await sessions.FindLiveByIdAsync(code.SessionId, cancellationToken) is not { } session || session.User.Id != code.UserId)
            return InvalidGrant("the sign-in session of the code has ended");
        UserAccount user = session.User;
        IReadOnlyList<string> granted = Scopes.Parse(code.Scope) ?? [];

        string codeHash = redeemed.CodeHash!;
        // The username is the profile scope's to give (an app granted only openid learns the user's sub, not their name).
        return new TokenGrant(GrantTypes.AuthorizationCode, client, user.Id, granted.Contains(Scopes.Profile) ? user.Username : null, user.Roles, code.Scope,
            client.MayUse(GrantTypes.RefreshToken) ? RefreshPlan.StartLogin : RefreshPlan.None)
        {
            LoggedInAt = code.AuthTime,
            UserCutOff = user.TokensValidAfter,
            SignInSessionId = code.SessionId,
            Amr = code.Amr,
            IdToken = granted.Contains(Scopes.OpenId)
                ? new IdTokenRequest(code.SessionId, code.AuthTime, code.Nonce) { Name = user.Name, Email = user.Email, EmailVerified = user.EmailVerified }
                : null,
            OnIssued = (issued, ct) => codes.RecordIssuedAsync(codeHash, code, issued.FamilyId, issued.AccessTokenId, issued.AccessTokenExpiresAt,
                request.ClientAddress, ct),
        };
    }

    private static OAuthError InvalidGrant(string detail) =>
        new(OAuthErrors.InvalidGrant, "The authorization code is invalid, expired, or was issued to another client or redirect_uri.") { Detail = detail };
}
