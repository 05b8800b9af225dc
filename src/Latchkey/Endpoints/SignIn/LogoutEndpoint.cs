using Latchkey.Accounts;
using Latchkey.Clients;
using Latchkey.Tokens;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.Extensions.Options;

namespace Latchkey.Endpoints.SignIn;

/// <summary>
/// The end-session endpoint (OpenID Connect RP-Initiated Logout 1.0): ends the browser's sign-in session and revokes the
/// refresh tokens apps got in it, then sends the browser to the app's registered <c>post_logout_redirect_uri</c> (with its
/// <c>state</c>) or shows that the user is signed out. With a valid <c>id_token_hint</c> for the session's user, at once;
/// without one, the user confirms on a page first, so no other site can sign them out with a link.
/// </summary>
internal sealed class LogoutEndpoint(
    ClientAuthenticator clients, LoginSessions sessions, RefreshTokenFamilies families, IdTokenHints hints, IAntiforgery antiforgery,
    IOptions<LatchkeyOptions> options)
{
    public const string Path = "/logout";
    public const string ConfirmPath = "/logout/confirm";

    private readonly string _brand = options.Value.Branding.Name;
    private readonly SessionCookie _cookie = new(options.Value);
    private readonly bool _httpsIssuer = options.Value.Issuer!.StartsWith("https://", StringComparison.OrdinalIgnoreCase);

    public static void Map(IEndpointRouteBuilder routes)
    {
        LogoutEndpoint endpoint = ActivatorUtilities.CreateInstance<LogoutEndpoint>(routes.ServiceProvider);
        routes.MapMethods(Path, [HttpMethods.Get, HttpMethods.Post], (HttpContext http) => endpoint.GuardAsync(http, endpoint.LogoutAsync))
            .DisableAntiforgery().ExcludeFromDescription();
        routes.MapPost(ConfirmPath, (HttpContext http) => endpoint.GuardAsync(http, endpoint.ConfirmAsync)).DisableAntiforgery().ExcludeFromDescription();
    }

    /// <summary>Where the browser goes after logout, for which client, with which state, and the hint, when valid.</summary>
    private sealed record LogoutTarget(string? RedirectUri, string? State, IdTokenHint? Hint, RequestParameters Parameters);

    private Task GuardAsync(HttpContext http, Func<HttpContext, Task> handler) => SignInPages.GuardAsync(http, _brand, _httpsIssuer, handler);

    private async Task LogoutAsync(HttpContext http)
    {
        (RequestParameters? parameters, string? problem) = HttpMethods.IsPost(http.Request.Method)
            ? RequestParameters.From(await http.Request.ReadFormAsync(http.RequestAborted))
            : RequestParameters.From(http.Request.Query);
        if (parameters is null || await CheckAsync(http, parameters) is not { } target)
        {
            if (parameters is null)
                await InvalidPageAsync(http, problem!);
            return;
        }

        bool afterForm = HttpMethods.IsPost(http.Request.Method);
        string? cookie = _cookie.Read(http.Request);
        LoginSession? session = await sessions.FindLiveAsync(cookie, http.RequestAborted);
        if (session is null)
        {
            // Only a cookie the browser sent is cleared: a cross-site post (which carries no SameSite=Lax cookie) changes nothing.
            if (cookie is not null)
                _cookie.Delete(http.Response);
            await DoneAsync(http, target, afterForm);
            return;
        }

        // The app proves it is the session's: a valid id token it was given for this user (and this session, when it says).
        if (target.Hint is { } hint && hint.Subject == session.User.Id && (hint.SessionId is null || hint.SessionId == session.SessionId))
        {
            await EndAsync(http, session);
            await DoneAsync(http, target, afterForm);
            return;
        }

        AntiforgeryTokenSet tokens = antiforgery.GetAndStoreTokens(http);
        await SignInPages.LogoutAsync(http, new LogoutPage(_brand, SignInPages.NewNonce(), ConfirmPath, session.User.Username, parameters.Serialize(),
            tokens.FormFieldName, tokens.RequestToken!), target.RedirectUri);
    }

    private async Task ConfirmAsync(HttpContext http)
    {
        if (!http.Request.HasFormContentType || !await antiforgery.IsRequestValidAsync(http))
        {
            await SignInPages.ErrorAsync(http, _brand, "This form has expired",
                "The form was not sent from this page, or it has expired. Go back to the app and sign out again.");
            return;
        }

        IFormCollection form = await http.Request.ReadFormAsync(http.RequestAborted);
        (RequestParameters? parameters, string? problem) = RequestParameters.Deserialize(form["request"].Count == 1 ? form["request"].ToString() : null);
        if (parameters is null)
        {
            await InvalidPageAsync(http, problem!);
            return;
        }

        if (await CheckAsync(http, parameters) is not { } target)
            return;
        if (form["decision"].ToString() != "logout")
        {
            await SignInPages.SignedOutAsync(http, _brand, "You are still signed in", "Nothing changed: you are still signed in.");
            return;
        }

        if (await sessions.FindLiveAsync(_cookie.Read(http.Request), http.RequestAborted) is { } session)
            await EndAsync(http, session);
        else if (_cookie.Read(http.Request) is not null)
            _cookie.Delete(http.Response);
        await DoneAsync(http, target, afterForm: true);
    }

    /// <summary>
    /// The request checked: a hint that is not a valid id token of ours (tampered, forged, another issuer's) is refused, and a
    /// <c>post_logout_redirect_uri</c> must be one its client registered, exactly. Refusals are answered here (null).
    /// </summary>
    private async Task<LogoutTarget?> CheckAsync(HttpContext http, RequestParameters parameters)
    {
        IdTokenHint? hint = null;
        if (parameters["id_token_hint"] is { } hintText && (hint = hints.Read(hintText)) is null)
        {
            await InvalidPageAsync(http, "The app's id_token_hint is not a valid id token from this server.");
            return null;
        }

        string? clientId = parameters.ClientId;
        if (hint is not null && clientId is not null && clientId != hint.ClientId)
        {
            await InvalidPageAsync(http, "The client_id does not match the id_token_hint.");
            return null;
        }

        clientId ??= hint?.ClientId;
        string? redirectUri = parameters["post_logout_redirect_uri"];
        if (redirectUri is not null)
        {
            Client? client = clientId is { Length: <= 64 } ? await clients.FindRegisteredAsync(clientId, http.RequestAborted) : null;
            if (client is null || client.Disabled)
            {
                await InvalidPageAsync(http, "A post_logout_redirect_uri needs the app's client_id or id_token_hint, of a registered app.");
                return null;
            }

            if (!client.PostLogoutRedirectUris.Contains(redirectUri, StringComparer.Ordinal))
            {
                await InvalidPageAsync(http, "The app asked to return to an address it has not registered for after sign-out.");
                return null;
            }
        }

        return new LogoutTarget(redirectUri, parameters.State, hint, parameters);
    }

    /// <summary>Ends the session and revokes the refresh tokens of the logins that began in it; the cookie goes.</summary>
    private async Task EndAsync(HttpContext http, LoginSession session)
    {
        await sessions.EndAsync(session.SessionId, session.User.Id, "logout", http.Connection.RemoteIpAddress, http.RequestAborted);
        await families.RevokeAllOfSessionAsync(session.SessionId, session.User.Id, RefreshTokenFamilies.Reasons.LoggedOut, http.Connection.RemoteIpAddress,
            http.RequestAborted);
        _cookie.Delete(http.Response);
    }

    private Task DoneAsync(HttpContext http, LogoutTarget target, bool afterForm)
    {
        if (target.RedirectUri is not { } redirectUri)
            return SignInPages.SignedOutAsync(http, _brand, "You are signed out", $"You have signed out of {_brand}.");
        http.Response.StatusCode = afterForm ? StatusCodes.Status303SeeOther : StatusCodes.Status302Found;
        http.Response.Headers.Location = target.State is { } state
            ? redirectUri + (redirectUri.Contains('?') ? "&" : "?") + "state=" + Uri.EscapeDataString(state)
            : redirectUri;
        http.Response.Headers.CacheControl = "no-store";
        return Task.CompletedTask;
    }

    private Task InvalidPageAsync(HttpContext http, string message) => SignInPages.ErrorAsync(http, _brand, "This sign-out link is not valid", message);
}
