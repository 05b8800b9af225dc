using Latchkey.Accounts;
using Latchkey.Clients;
using Latchkey.Protocol;

namespace Latchkey.Grants;

/// <summary>
/// The resource owner password credentials grant (RFC 6749 §4.3). RFC 9700 §2.4 advises against it for third-party
/// clients; Latchkey allows it per client (the built-in first-party client has it) and throttles it, as §4.3.2 requires.
/// A client that may also use <c>refresh_token</c> gets a refresh token, starting a new login (a refresh family). A user who
/// has a second factor is refused: this grant has no step to ask for it.
/// </summary>
internal sealed class PasswordGrant(PasswordLogin login, SecondFactors factors) : IGrant
{
    public async Task<GrantDecision> DecideAsync(TokenRequest request, Client client, IReadOnlyList<string> scopes, CancellationToken cancellationToken)
    {
        if (request.Username is null || request.Password is null)
            return OAuthError.InvalidRequest("The password grant needs username and password.");
        // No account can have such a name or password, so refusing them here reveals nothing and saves a hash.
        if (request.Username.Length > Usernames.MaximumLength)
            return OAuthError.InvalidRequest($"The username is longer than {Usernames.MaximumLength} characters.");
        if (request.Password.Length > PasswordHasher.MaximumPasswordLength)
            return OAuthError.InvalidRequest($"The password is longer than {PasswordHasher.MaximumPasswordLength} characters.");

        LoginResult result = await login.LoginAsync(request.Username, request.Password, request.ClientAddress, client.ClientId, cancellationToken);
        if (result.IsBusy)
            return OAuthError.Busy(result.RetryAfter!.Value, "password hashing at capacity");
        if (result.RetryAfter is { } wait)
            return OAuthError.Throttled(wait, "login throttled");
        if (result.User is not { } user)
            return OAuthError.InvalidCredentials(result.FailureReason!);
        // A password alone must not get around the second factor its owner set up: there is no step for it in this grant.
        if (factors.IsRequired(user, clientRequires: false) || await factors.HasAnyAsync(user.Id, cancellationToken))
            return new OAuthError(OAuthErrors.InvalidGrant, "This account signs in with a second factor: sign in through the browser.")
            {
                Detail = $"'{user.Username}' has or needs a second factor",
            };
        // The password was right, so saying that this account may not have the admin scope reveals nothing new.
        if (scopes.Contains(Scopes.Admin) && !user.Roles.Contains(Roles.Admin))
            return new OAuthError(OAuthErrors.InvalidScope, "The requested scope is not allowed.") { Detail = $"{Scopes.Admin} for '{user.Username}', who is not an admin" };

        return new TokenGrant(GrantTypes.Password, client, user.Id, user.Username, user.Roles, Scopes.Join(scopes),
            client.MayUse(GrantTypes.RefreshToken) ? RefreshPlan.StartLogin : RefreshPlan.None)
        {
            LoggedInAt = result.AuthenticatedAt,
            UserCutOff = user.TokensValidAfter,
            Amr = [Protocol.SignInMethods.Password],
        };
    }
}
