using System.Net;
using Latchkey.Accounts;
using Latchkey.Clients;
using Latchkey.Protocol;
using Latchkey.Tokens;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.Extensions.Options;

namespace Latchkey.Endpoints.SignIn;

/// <summary>
/// The authorization endpoint (RFC 6749 §3.1, OpenID Connect Core §3.1.2) and its hosted pages: <c>GET|POST /authorize</c>
/// checks the request, then signs the user in (the login page, unless the browser's session already has), asks a third-party
/// app's user to consent, and sends the browser back to the app with a code. The forms post to
/// <c>/authorize/login</c> and <c>/authorize/consent</c>, carrying the request, which is checked again each time.
/// </summary>
internal sealed class AuthorizeEndpoint(
    ClientAuthenticator clients, PasswordLogin passwords, SecondFactors factors, Passkeys passkeys, PendingSignIns pending, LoginSessions sessions, UserAccounts accounts,
    Consents consents, AuthorizationCodes codes, IAntiforgery antiforgery, IOptions<LatchkeyOptions> options, TimeProvider time)
{
    public const string Path = "/authorize";
    public const string LoginPath = "/authorize/login";
    public const string SecondFactorPath = "/authorize/second-factor";
    public const string PasskeyPath = "/authorize/passkey";
    public const string EnrolPath = "/authorize/enrol";
    public const string ConsentPath = "/authorize/consent";

    private readonly string _brand = options.Value.Branding.Name;
    private readonly string _issuer = options.Value.Issuer!;
    private readonly SessionCookie _cookie = new(options.Value);
    private readonly bool _httpsIssuer = options.Value.Issuer!.StartsWith("https://", StringComparison.OrdinalIgnoreCase);

    public static void Map(IEndpointRouteBuilder routes)
    {
        AuthorizeEndpoint endpoint = ActivatorUtilities.CreateInstance<AuthorizeEndpoint>(routes.ServiceProvider);
        // Browser pages and redirects, not an API: described by discovery (authorization_endpoint), not by /openapi.json.
        routes.MapMethods(Path, [HttpMethods.Get, HttpMethods.Post], (HttpContext http) => endpoint.GuardAsync(http, endpoint.AuthorizeAsync))
            .DisableAntiforgery().ExcludeFromDescription();
        routes.MapPost(LoginPath, (HttpContext http) => endpoint.GuardAsync(http, endpoint.LoginAsync)).DisableAntiforgery().ExcludeFromDescription();
        routes.MapPost(SecondFactorPath, (HttpContext http) => endpoint.GuardAsync(http, endpoint.SecondFactorAsync)).DisableAntiforgery().ExcludeFromDescription();
        routes.MapPost(PasskeyPath, (HttpContext http) => endpoint.GuardAsync(http, endpoint.PasskeyAsync)).DisableAntiforgery().ExcludeFromDescription();
        routes.MapPost(EnrolPath, (HttpContext http) => endpoint.GuardAsync(http, endpoint.EnrolAsync)).DisableAntiforgery().ExcludeFromDescription();
        routes.MapPost(ConsentPath, (HttpContext http) => endpoint.GuardAsync(http, endpoint.ConsentAsync)).DisableAntiforgery().ExcludeFromDescription();
    }

    private Task GuardAsync(HttpContext http, Func<HttpContext, Task> handler) => SignInPages.GuardAsync(http, _brand, _httpsIssuer, handler);

    /// <summary>An authorization request, from the app (GET, or POST as OpenID Connect Core §3.1.2.1 allows).</summary>
    private async Task AuthorizeAsync(HttpContext http)
    {
        (RequestParameters? request, string? problem) = HttpMethods.IsPost(http.Request.Method)
            ? RequestParameters.From(await http.Request.ReadFormAsync(http.RequestAborted))
            : RequestParameters.From(http.Request.Query);
        if (request is null)
        {
            await InvalidRequestPageAsync(http, problem!);
            return;
        }

        if (await CheckAsync(http, request) is not { } valid)
            return;
        LoginSession? session = await sessions.FindLiveAsync(_cookie.Read(http.Request), http.RequestAborted);
        if (session is null || valid.Prompt.Contains("login") || IsTooOld(session, valid.MaxAge))
        {
            if (valid.Prompt.Contains("none"))
            {
                await RefuseAsync(http, valid, "login_required", "The user is not signed in.", afterForm: HttpMethods.IsPost(http.Request.Method));
                return;
            }

            await ShowLoginAsync(http, valid, valid.LoginHint, error: null);
            return;
        }

        await ContinueAsync(http, valid, session, afterForm: HttpMethods.IsPost(http.Request.Method));
    }

    /// <summary>The code from the authenticator app (or a recovery code), after the password or for a step-up.</summary>
    private async Task SecondFactorAsync(HttpContext http)
    {
        if (await ReadSecondStepAsync(http) is not { } step)
            return;
        (PostedForm form, ValidAuthorization valid, string pendingValue, PendingSignIn halfway) = step;
        IPAddress? address = http.Connection.RemoteIpAddress;

        // A passkey, the user's choice over the code (the page offers both when they have both).
        if (form.Fields["credential"].ToString().Length > 0)
        {
            PasskeyResult used = await passkeys.VerifyAsync(form.Fields["ceremony"].ToString(), form.Fields["credential"].ToString(), halfway.User, address,
                http.RequestAborted);
            if (!used.Succeeded)
                await ShowSecondFactorAsync(http, valid, halfway.User, pendingValue, used.Failure);
            else
                await StartSessionAsync(http, valid, halfway.User, time.GetUtcNow(), SignInMethods.WithSecondFactor(halfway.Amr, [.. used.Methods!]));
            return;
        }

        string code = form.Fields["code"].ToString();
        if (code.Trim().Length == 0 || code.Length > 64)
        {
            await ShowSecondFactorAsync(http, valid, halfway.User, pendingValue, SignInMessages.EnterCode);
            return;
        }

        SecondFactorResult result = await factors.VerifyAsync(halfway.User, code, address, http.RequestAborted);
        if (result.RetryAfter is { } wait)
        {
            await ShowSecondFactorAsync(http, valid, halfway.User, pendingValue, SignInMessages.TooManyAttempts(http.Response, wait),
                StatusCodes.Status429TooManyRequests);
            return;
        }

        if (!result.Succeeded)
        {
            await ShowSecondFactorAsync(http, valid, halfway.User, pendingValue, SignInMessages.CodeRefused(result));
            return;
        }

        await StartSessionAsync(http, valid, halfway.User, time.GetUtcNow(), SignInMethods.WithSecondFactor(halfway.Amr, result.Method!));
    }

    /// <summary>
    /// "Sign in with a passkey" (or the passkey the browser offered in the username field): the passkey alone, verified by its
    /// authenticator (a PIN, a fingerprint), is two factors and the strongest sign-in there is.
    /// </summary>
    private async Task PasskeyAsync(HttpContext http)
    {
        if (await ReadFormAsync(http) is not { } form || await CheckAsync(http, form.Request) is not { } valid)
            return;
        PasskeyResult result = await passkeys.VerifyAsync(form.Fields["ceremony"].ToString(), form.Fields["credential"].ToString(), expected: null,
            http.Connection.RemoteIpAddress, http.RequestAborted);
        if (result.User is not { } user)
        {
            await ShowLoginAsync(http, valid, valid.LoginHint, result.Failure);
            return;
        }

        await StartSessionAsync(http, valid, user, time.GetUtcNow(), SignInMethods.WithSecondFactor(result.Methods!));
    }

    /// <summary>The login form, posted back: the same throttle, timing and hashing gate as the password grant.</summary>
    private async Task LoginAsync(HttpContext http)
    {
        if (await ReadFormAsync(http) is not { } form || await CheckAsync(http, form.Request) is not { } valid)
            return;

        string username = form.Fields["username"].ToString();
        string password = form.Fields["password"].ToString();
        if (username.Length == 0 || password.Length == 0)
        {
            await ShowLoginAsync(http, valid, username, "Enter your username and password.");
            return;
        }

        IPAddress? address = http.Connection.RemoteIpAddress;
        LoginResult result = username.Length > Usernames.MaximumLength || password.Length > PasswordHasher.MaximumPasswordLength
            ? LoginResult.Failed("too long")
            : await passwords.LoginAsync(username, password, address, valid.Client.ClientId, http.RequestAborted);
        if (result.RetryAfter is { } wait)
        {
            string message = SignInMessages.TooManyAttempts(http.Response, wait);
            await ShowLoginAsync(http, valid, username, result.IsBusy ? SignInMessages.Busy : message,
                result.IsBusy ? StatusCodes.Status503ServiceUnavailable : StatusCodes.Status429TooManyRequests);
            return;
        }

        if (result.User is not { } user)
        {
            await ShowLoginAsync(http, valid, username, "The username or password is incorrect.");
            return;
        }

        // A user with a second factor is asked for it after every password; only then does a session start.
        if (await factors.HasAnyAsync(user.Id, http.RequestAborted))
        {
            await ShowSecondFactorAsync(http, valid, user, pending.Protect(user, [SignInMethods.Password]), error: null);
            return;
        }

        if (factors.IsRequired(user, valid.Client.RequireMfa))
        {
            await ShowEnrolAsync(http, valid, user, pending.Protect(user, [SignInMethods.Password]), error: null);
            return;
        }

        await StartSessionAsync(http, valid, user, result.AuthenticatedAt, [SignInMethods.Password]);
    }

    /// <summary>
    /// The second factor set up during a sign-in (a user who must have one had none): the authenticator app's first code, or
    /// a new passkey. The sign-in becomes a two-factor one, and the recovery codes are shown once, with the way on.
    /// </summary>
    private async Task EnrolAsync(HttpContext http)
    {
        if (await ReadSecondStepAsync(http) is not { } step)
            return;
        (PostedForm form, ValidAuthorization valid, string pendingValue, PendingSignIn halfway) = step;
        IPAddress? address = http.Connection.RemoteIpAddress;
        // Only a user without any factor sets one up here: anyone else is asked for theirs (a pending sign-in of a user with a
        // passkey, posted here, must not set up an app beside it with the password alone).
        if (await factors.HasAnyAsync(halfway.User.Id, http.RequestAborted))
        {
            await ShowSecondFactorAsync(http, valid, halfway.User, pendingValue, error: null);
            return;
        }

        IReadOnlyList<string> amr, codes;
        string why;
        if (form.Fields["credential"].ToString().Length > 0)
        {
            (PasskeyEntry? added, string? refused) = await passkeys.RegisterAsync(halfway.User, form.Fields["ceremony"].ToString(),
                form.Fields["credential"].ToString(), form.Fields["name"].ToString(), address, http.RequestAborted);
            if (added is null)
            {
                await ShowEnrolAsync(http, valid, halfway.User, pendingValue, refused);
                return;
            }

            // Its registration proves nothing signed (attestation "none"): the sign-in stays a password one, and the app's
            // request, resumed, asks for the new passkey (a step-up) before it goes on.
            amr = halfway.Amr;
            codes = await factors.NewRecoveryCodesAsync(halfway.User, address, http.RequestAborted);
            why = "passkey added";
        }
        else
        {
            (IReadOnlyList<string>? confirmed, string? failure) = await factors.ConfirmTotpAsync(halfway.User, form.Fields["code"].ToString(), address,
                http.RequestAborted);
            if (confirmed is null)
            {
                await ShowEnrolAsync(http, valid, halfway.User, pendingValue,
                    failure == "throttled" ? "Too many attempts. Try again later." : SignInMessages.WrongFirstCode);
                return;
            }

            amr = SignInMethods.WithSecondFactor(halfway.Amr, SignInMethods.OneTimeCode);
            codes = confirmed;
            why = "authenticator app turned on";
        }

        // A factor now stands behind the account: what rested on the password alone (sessions, refresh tokens) ends, and this
        // browser, where the user just set it up, gets a new session.
        AccountResult ended = await accounts.EndSessionsAsync(halfway.User.Username, halfway.User.Username, why, http.RequestAborted);
        (string secret, _) = await sessions.RenewAsync(ended.User ?? halfway.User, amr, address, http.Request.Headers.UserAgent.ToString(), http.RequestAborted);
        _cookie.Write(http.Response, secret);
        // The request goes on from where it was, now with a two-factor session: consent if needed, then the code.
        await SignInPages.RecoveryCodesAsync(http, new RecoveryCodesPage(_brand, SignInPages.NewNonce(), codes, valid.Client.ClientId,
            Path + "?" + valid.Request.Serialize()));
    }

    /// <summary>
    /// A form of the step after the password (the code, or setting up the app), with the request it carries and the pending
    /// sign-in; null when either is refused (answered already: an expired sign-in goes back to the login page).
    /// </summary>
    private async Task<(PostedForm Form, ValidAuthorization Valid, string PendingValue, PendingSignIn Halfway)?> ReadSecondStepAsync(HttpContext http)
    {
        if (await ReadFormAsync(http) is not { } form || await CheckAsync(http, form.Request) is not { } valid)
            return null;
        string pendingValue = form.Fields["pending"].ToString();
        if (await pending.ReadAsync(pendingValue, http.RequestAborted) is not { } halfway)
        {
            await ShowLoginAsync(http, valid, valid.LoginHint, SignInMessages.Expired);
            return null;
        }

        return (form, valid, pendingValue, halfway);
    }

    private async Task StartSessionAsync(HttpContext http, ValidAuthorization valid, UserAccount user, DateTimeOffset authTime, IReadOnlyList<string> amr)
    {
        (string secret, LoginSession session) = await sessions.StartAsync(user, authTime, amr, _cookie.Read(http.Request), http.Connection.RemoteIpAddress,
            http.RequestAborted, http.Request.Headers.UserAgent.ToString());
        _cookie.Write(http.Response, secret);
        await ContinueAsync(http, valid, session, afterForm: true);
    }

    /// <summary>The consent form, posted back: "Allow" issues the code, "Deny" tells the app <c>access_denied</c>.</summary>
    private async Task ConsentAsync(HttpContext http)
    {
        if (await ReadFormAsync(http) is not { } form || await CheckAsync(http, form.Request) is not { } valid)
            return;
        if (await sessions.FindLiveAsync(_cookie.Read(http.Request), http.RequestAborted) is not { } session)
        {
            await ShowLoginAsync(http, valid, valid.LoginHint, SignInMessages.Expired);
            return;
        }

        switch (form.Fields["decision"].ToString())
        {
            // The consent form can be posted without the consent page ever shown: the sign-in must be as strong here too.
            case "allow" when !await IsStrongEnoughAsync(http, valid, session, afterForm: true):
                break;
            case "allow":
                await consents.GrantAsync(session.User, valid.Client.ClientId, valid.Scopes, http.RequestAborted);
                await IssueCodeAsync(http, valid, session, afterForm: true);
                break;
            case "deny":
                await RefuseAsync(http, valid, "access_denied", "The user denied access.", afterForm: true);
                break;
            default:
                await InvalidRequestPageAsync(http, "The consent form is incomplete.");
                break;
        }
    }

    /// <summary>
    /// Signed in: a third party's app needs the user's consent to the scopes it asks for (remembered: asked again only for
    /// more scopes, or with <c>prompt=consent</c>), then the code goes back to the app.
    /// </summary>
    private async Task ContinueAsync(HttpContext http, ValidAuthorization valid, LoginSession session, bool afterForm)
    {
        if (!await IsStrongEnoughAsync(http, valid, session, afterForm))
            return;

        // A public client returning to a loopback address or a private-use scheme could be any program on the device claiming to
        // be it (RFC 8252 §8.6): its user is asked every time, whatever was allowed before.
        bool impersonable = valid.Client.IsPublic && IsNativeRedirect(valid.RedirectUri);
        if (impersonable || (!valid.Client.IsFirstParty &&
            (valid.Prompt.Contains("consent") || !await consents.CoversAsync(session.User.Id, valid.Client.ClientId, valid.Scopes, http.RequestAborted))))
        {
            if (valid.Prompt.Contains("none"))
            {
                await RefuseAsync(http, valid, "consent_required", "The user has not consented to this app.", afterForm);
                return;
            }

            AntiforgeryTokenSet tokens = antiforgery.GetAndStoreTokens(http);
            var page = new ConsentPage(_brand, SignInPages.NewNonce(), ConsentPath, valid.Client.ClientId, session.User.Username,
                valid.Scopes.Select(ScopeDescriptions.Describe).ToArray(), valid.Request.Serialize(), tokens.FormFieldName, tokens.RequestToken!);
            await SignInPages.ConsentAsync(http, page, valid.RedirectUri);
            return;
        }

        await IssueCodeAsync(http, valid, session, afterForm);
    }

    /// <summary>
    /// Whether the session's sign-in is as strong as this request needs: the level the app asked for (<c>acr_values</c>), and
    /// two factors when the policy or the client requires them. When it is not, the user is asked for more (a step-up), or
    /// the app is told; and this returns false. (Turning a factor on ends every other session that began without it; the one
    /// browser where the user turned it on keeps its own. So this costs no database read on the way of every sign-in.)
    /// </summary>
    private async Task<bool> IsStrongEnoughAsync(HttpContext http, ValidAuthorization valid, LoginSession session, bool afterForm)
    {
        bool mustHaveTwo = factors.IsRequired(session.User, valid.Client.RequireMfa);
        string? level = mustHaveTwo && valid.RequiredLevel is null or AuthenticationLevels.Password ? AuthenticationLevels.TwoFactors : valid.RequiredLevel;
        if (level is null || AuthenticationLevels.Meets(session.Amr, level))
            return true;

        bool canStepUp = await factors.StepUpRequiredAsync(session.User, session.Amr, level, valid.Client.ClientId, http.Connection.RemoteIpAddress,
            http.RequestAborted);
        if (valid.Prompt.Contains("none"))
            await RefuseAsync(http, valid, "interaction_required", "The app asks for a stronger sign-in than this session has.", afterForm);
        else if (canStepUp)
            await ShowSecondFactorAsync(http, valid, session.User, pending.Protect(session.User, session.Amr), error: null,
                passkeyOnly: level == AuthenticationLevels.PhishingResistant);
        else if (mustHaveTwo && level == AuthenticationLevels.TwoFactors)
            await ShowLoginAsync(http, valid, session.User.Username, error: null); // the password again, then an authenticator app is set up
        else
            await RefuseAsync(http, valid, "unmet_authentication_requirements", $"The user cannot sign in at the level {level} asked for.", afterForm);
        return false;
    }

    private async Task IssueCodeAsync(HttpContext http, ValidAuthorization valid, LoginSession session, bool afterForm)
    {
        string code = await codes.IssueAsync(new CodeBinding(valid.Client.ClientId, valid.RedirectUri, valid.CodeChallenge, valid.Nonce, valid.Scope,
            session.SessionId, session.User.Id, session.AuthTime)
        { Amr = session.Amr }, http.RequestAborted);
        await RespondAsync(http, valid.RedirectUri, valid.FormPost, [new("code", code), .. StateAndIssuer(valid.State)], afterForm);
    }

    /// <summary>The request checked against its client; when it is refused, the refusal is already answered and this returns null.</summary>
    private async Task<ValidAuthorization?> CheckAsync(HttpContext http, RequestParameters request)
    {
        Client? client = request.ClientId is { Length: <= 64 } id ? await clients.FindRegisteredAsync(id, http.RequestAborted) : null;
        (ValidAuthorization? valid, AuthorizationRefusal? refusal) = AuthorizationRules.Check(request, client);
        if (valid is not null)
            return valid;
        if (refusal!.PageMessage is { } message)
            await InvalidRequestPageAsync(http, message);
        else
            await RespondAsync(http, refusal.RedirectUri!, refusal.FormPost,
                [new("error", refusal.Error!), new("error_description", refusal.Description!), .. StateAndIssuer(refusal.State)],
                afterForm: HttpMethods.IsPost(http.Request.Method));
        return null;
    }

    private Task RefuseAsync(HttpContext http, ValidAuthorization valid, string error, string description, bool afterForm) =>
        RespondAsync(http, valid.RedirectUri, valid.FormPost, [new("error", error), new("error_description", description), .. StateAndIssuer(valid.State)],
            afterForm);

    /// <summary>The state, and the issuer (RFC 9207), which every authorization response carries.</summary>
    private KeyValuePair<string, string>[] StateAndIssuer(string? state) =>
        state is null ? [new("iss", _issuer)] : [new("state", state), new("iss", _issuer)];

    /// <summary>
    /// Sends the browser back to the app: a redirect with the parameters in the query (303 after a form post, RFC 9700 §4.12,
    /// so the browser does not post the password on), or the form_post page.
    /// </summary>
    private Task RespondAsync(HttpContext http, string redirectUri, bool formPost, IReadOnlyList<KeyValuePair<string, string>> parameters, bool afterForm)
    {
        if (formPost)
            return SignInPages.FormPostAsync(http, _brand, redirectUri, parameters);
        string query = string.Join('&', parameters.Select(p => Uri.EscapeDataString(p.Key) + "=" + Uri.EscapeDataString(p.Value)));
        http.Response.StatusCode = afterForm ? StatusCodes.Status303SeeOther : StatusCodes.Status302Found;
        http.Response.Headers.Location = redirectUri + (redirectUri.Contains('?') ? "&" : "?") + query;
        http.Response.Headers.CacheControl = "no-store";
        return Task.CompletedTask;
    }

    private Task ShowLoginAsync(HttpContext http, ValidAuthorization valid, string? username, string? error, int status = StatusCodes.Status200OK)
    {
        AntiforgeryTokenSet tokens = antiforgery.GetAndStoreTokens(http);
        var page = new LoginPage(_brand, SignInPages.NewNonce(), LoginPath, valid.Client.ClientId, valid.Request.Serialize(), tokens.FormFieldName,
            tokens.RequestToken!, username, error)
        { Passkey = passkeys.BeginSignIn(), PasskeyAction = PasskeyPath };
        return SignInPages.LoginAsync(http, page, valid.RedirectUri, status);
    }

    private async Task ShowSecondFactorAsync(HttpContext http, ValidAuthorization valid, UserAccount user, string pendingValue, string? error,
        int status = StatusCodes.Status200OK, bool passkeyOnly = false)
    {
        AntiforgeryTokenSet tokens = antiforgery.GetAndStoreTokens(http);
        bool totp = await factors.HasTotpAsync(user.Id, http.RequestAborted);
        PasskeyRequest? passkey = await factors.HasPasskeyAsync(user.Id, http.RequestAborted) ? await passkeys.BeginSignInAsync(user, http.RequestAborted) : null;
        var page = new SecondFactorPage(_brand, SignInPages.NewNonce(), SecondFactorPath, SignInMessages.SecondFactorLead(totp && !passkeyOnly, passkey is not null,
                valid.Client.ClientId), valid.Request.Serialize(), pendingValue, tokens.FormFieldName, tokens.RequestToken!, error)
        { Totp = totp, Passkey = passkey, PasskeyOnly = passkeyOnly };
        await SignInPages.SecondFactorAsync(http, page, valid.RedirectUri, status);
    }

    private async Task ShowEnrolAsync(HttpContext http, ValidAuthorization valid, UserAccount user, string pendingValue, string? error)
    {
        // The same key while the user retries; a new one when they arrive.
        TotpEnrolment? enrolment = await factors.HasPasskeyAsync(user.Id, http.RequestAborted)
            ? null
            : (error is null ? null : await factors.PendingTotpAsync(user, _brand, http.RequestAborted)) ??
              await factors.BeginTotpAsync(user, _brand, http.RequestAborted);
        if (enrolment is null)
        {
            await ShowSecondFactorAsync(http, valid, user, pendingValue, error: null); // set up meanwhile, elsewhere: ask for it
            return;
        }

        AntiforgeryTokenSet tokens = antiforgery.GetAndStoreTokens(http);
        var page = new EnrolPage(_brand, SignInPages.NewNonce(), EnrolPath, $"{valid.Client.ClientId} asks you to sign in with two factors.",
            valid.Request.Serialize(), pendingValue, enrolment.Secret, SignInPages.QrCodeDataUri(enrolment.Uri), tokens.FormFieldName, tokens.RequestToken!, error)
        { PasskeyRegistration = await passkeys.BeginRegistrationAsync(user, http.RequestAborted) };
        await SignInPages.EnrolAsync(http, page, valid.RedirectUri);
    }

    private Task InvalidRequestPageAsync(HttpContext http, string message) =>
        SignInPages.ErrorAsync(http, _brand, "This sign-in link is not valid", message);

    private sealed record PostedForm(IFormCollection Fields, RequestParameters Request);

    /// <summary>A form of ours, posted back: its antiforgery token must match the browser's cookie (no other site can make one).</summary>
    private async Task<PostedForm?> ReadFormAsync(HttpContext http)
    {
        if (!http.Request.HasFormContentType || !await antiforgery.IsRequestValidAsync(http))
        {
            await SignInPages.ErrorAsync(http, _brand, "This form has expired",
                "The form was not sent from this sign-in page, or it has expired. Go back to the app and sign in again.");
            return null;
        }

        IFormCollection fields = await http.Request.ReadFormAsync(http.RequestAborted);
        (RequestParameters? request, string? problem) = RequestParameters.Deserialize(fields["request"].Count == 1 ? fields["request"].ToString() : null);
        if (request is null)
        {
            await InvalidRequestPageAsync(http, problem!);
            return null;
        }

        return new PostedForm(fields, request);
    }

    /// <summary>An http loopback redirect or a private-use scheme: where a native app, or something posing as it, receives the code.</summary>
    private static bool IsNativeRedirect(string redirectUri) =>
        !redirectUri.StartsWith("https://", StringComparison.Ordinal);

    private bool IsTooOld(LoginSession session, long? maxAge) =>
        maxAge is { } seconds && time.GetUtcNow() - session.AuthTime > TimeSpan.FromSeconds(Math.Min(seconds, (long)TimeSpan.MaxValue.TotalSeconds - 1));
}

/// <summary>What each scope lets an app do, in words for the consent page.</summary>
internal static class ScopeDescriptions
{
    public static ScopeDescription Describe(string scope) => scope switch
    {
        Scopes.OpenId => new(scope, "Know who you are when you sign in"),
        Scopes.Profile => new(scope, "See your username and name"),
        Scopes.Email => new(scope, "See your e-mail address"),
        _ => new(scope, "Access on your behalf"),
    };
}
