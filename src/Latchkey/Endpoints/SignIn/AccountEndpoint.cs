using System.Net;
using Latchkey.Accounts;
using Latchkey.Protocol;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.Extensions.Options;

namespace Latchkey.Endpoints.SignIn;

/// <summary>
/// The user's own account page, <c>/account</c>, through their browser sign-in session: the authenticator app (set up with a
/// QR code and a first code, turned off) and recovery codes. Changing any of it needs a sign-in no older than
/// <see cref="MfaOptions.FreshLoginWindow"/>; an older session signs in again first. Without a session the page is the login
/// form (with the second factor, when the user has one), which comes back here.
/// </summary>
internal sealed class AccountEndpoint(
    PasswordLogin passwords, SecondFactors factors, Passkeys passkeys, PendingSignIns pending, LoginSessions sessions, UserAccounts accounts, Consents consents,
    IAntiforgery antiforgery, IOptions<LatchkeyOptions> options, TimeProvider time)
{
    public const string Path = "/account";
    public const string LoginPath = "/account/login";
    public const string SecondFactorPath = "/account/second-factor";
    public const string PasskeyPath = "/account/passkey";

    private readonly string _brand = options.Value.Branding.Name;
    private readonly SessionCookie _cookie = new(options.Value);
    private readonly bool _httpsIssuer = options.Value.Issuer!.StartsWith("https://", StringComparison.OrdinalIgnoreCase);
    private readonly TimeSpan _freshWindow = options.Value.Mfa.FreshLoginWindow;

    public static void Map(IEndpointRouteBuilder routes)
    {
        AccountEndpoint endpoint = ActivatorUtilities.CreateInstance<AccountEndpoint>(routes.ServiceProvider);
        routes.MapGet(Path, (HttpContext http) => endpoint.GuardAsync(http, endpoint.ShowAsync)).ExcludeFromDescription();
        routes.MapPost(Path, (HttpContext http) => endpoint.GuardAsync(http, endpoint.ChangeAsync)).DisableAntiforgery().ExcludeFromDescription();
        routes.MapPost(LoginPath, (HttpContext http) => endpoint.GuardAsync(http, endpoint.LoginAsync)).DisableAntiforgery().ExcludeFromDescription();
        routes.MapPost(SecondFactorPath, (HttpContext http) => endpoint.GuardAsync(http, endpoint.SecondFactorAsync)).DisableAntiforgery()
            .ExcludeFromDescription();
        routes.MapPost(PasskeyPath, (HttpContext http) => endpoint.GuardAsync(http, endpoint.PasskeyAsync)).DisableAntiforgery().ExcludeFromDescription();
    }

    private Task GuardAsync(HttpContext http, Func<HttpContext, Task> handler) => SignInPages.GuardAsync(http, _brand, _httpsIssuer, handler);

    private async Task ShowAsync(HttpContext http)
    {
        if (await sessions.FindLiveAsync(_cookie.Read(http.Request), http.RequestAborted) is not { } session)
        {
            await ShowLoginAsync(http, username: null, error: null);
            return;
        }

        await ShowAccountAsync(http, session);
    }

    /// <summary>One of the page's buttons, posted back: each change needs a fresh sign-in.</summary>
    private async Task ChangeAsync(HttpContext http)
    {
        if (await ReadFormAsync(http) is not { } fields)
            return;
        if (await sessions.FindLiveAsync(_cookie.Read(http.Request), http.RequestAborted) is not { } session)
        {
            await ShowLoginAsync(http, username: null, SignInMessages.Expired);
            return;
        }

        string action = fields["do"].ToString();
        if (action == "sign-in-again")
        {
            await ShowLoginAsync(http, session.User.Username, error: null);
            return;
        }

        IPAddress? address = http.Connection.RemoteIpAddress;
        UserAccount user = session.User;
        // Taking something away (a session, an app's access) needs no recent sign-in: it only protects the account.
        switch (action)
        {
            case "end-session":
                string which = fields["session"].ToString();
                bool ended = await sessions.EndOwnAsync(user, which, address, http.RequestAborted);
                if (ended && which == session.SessionId)
                {
                    _cookie.Delete(http.Response);
                    await SignInPages.SignedOutAsync(http, _brand, "You are signed out", "This browser's session has ended.");
                    return;
                }

                await ShowAccountAsync(http, session, notice: ended ? "The session has ended." : null, error: ended ? null : "That session has ended already.");
                return;
            case "end-other-sessions":
                int count = 0;
                foreach (SessionEntry other in (await sessions.ListAsync(user, http.RequestAborted)).Where(s => s.SessionId != session.SessionId))
                    count += await sessions.EndOwnAsync(user, other.SessionId, address, http.RequestAborted) ? 1 : 0;
                await ShowAccountAsync(http, session, notice: $"Signed out of {count} other session{(count == 1 ? "" : "s")}.");
                return;
            case "passkey-rename":
                bool renamed = await passkeys.RenameAsync(user, fields["passkey"].ToString(), fields["name"].ToString(), http.RequestAborted);
                await ShowAccountAsync(http, session, notice: renamed ? "The passkey is renamed." : null,
                    error: renamed ? null : $"Give the passkey a name of 1 to {Passkeys.MaxNameLength} characters.",
                    status: renamed ? StatusCodes.Status200OK : StatusCodes.Status400BadRequest);
                return;
            case "revoke-consent":
                string clientId = fields["client"].ToString();
                (string? revokeError, _) = await consents.RevokeAsync(user.Username, clientId, user.Username, http.RequestAborted);
                await ShowAccountAsync(http, session, notice: revokeError is null ? $"{clientId} no longer has access to your account." : null,
                    error: revokeError is null ? null : "That app had no access to your account.");
                return;
        }

        if (!IsFresh(session))
        {
            await ShowAccountAsync(http, session, error: "Sign in again first: changing how you sign in needs a recent sign-in.",
                status: StatusCodes.Status403Forbidden);
            return;
        }

        switch (action)
        {
            case "password":
                await ChangePasswordAsync(http, session, fields["current"].ToString(), fields["new"].ToString());
                break;
            case "totp-begin":
                TotpEnrolment? enrolment = await factors.BeginTotpAsync(user, _brand, http.RequestAborted);
                await ShowAccountAsync(http, session, error: enrolment is null ? "An authenticator app is on already." : null);
                break;
            case "totp-confirm":
                (IReadOnlyList<string>? codes, string? failure) = await factors.ConfirmTotpAsync(user, fields["code"].ToString(), address, http.RequestAborted);
                if (codes is null)
                    await ShowAccountAsync(http, session, error: failure == "throttled" ? "Too many attempts. Try again later." : SignInMessages.WrongFirstCode);
                else
                    // The first code proved the app, on a recent sign-in: this browser's new session has both factors.
                    await ShowAccountAsync(http, await EndOtherSessionsAsync(http, session, "authenticator app turned on",
                            SignInMethods.WithSecondFactor(session.Amr, SignInMethods.OneTimeCode)),
                        notice: "The authenticator app is on. Your other sessions are signed out.", recoveryCodes: codes);
                break;
            case "totp-remove":
                await factors.RemoveTotpAsync(user, address, http.RequestAborted);
                bool codesKept = await factors.HasAnyAsync(user.Id, http.RequestAborted); // a passkey still stands behind them
                await ShowAccountAsync(http, await EndOtherSessionsAsync(http, session, "authenticator app turned off", session.Amr),
                    notice: $"The authenticator app is off{(codesKept ? "" : ", and your recovery codes no longer work")}. Your other sessions are signed out.");
                break;
            case "passkey-add":
                await AddPasskeyAsync(http, session, fields);
                break;
            case "passkey-remove":
                string? removed = await passkeys.RemoveAsync(user, fields["passkey"].ToString(), address, http.RequestAborted);
                if (removed is null)
                {
                    await ShowAccountAsync(http, session, error: "That passkey is not on your account.", status: StatusCodes.Status400BadRequest);
                    break;
                }

                bool none = await factors.ForgetCodesIfNoFactorAsync(user.Id, http.RequestAborted);
                // A passkey is removed when its device is lost: what was signed in with it, elsewhere, ends.
                await ShowAccountAsync(http, await EndOtherSessionsAsync(http, session, "passkey removed", session.Amr),
                    notice: $"The passkey {removed} is removed{(none ? ", and your recovery codes no longer work" : "")}. Your other sessions are signed out.");
                break;
            case "recovery-codes" when await factors.HasAnyAsync(user.Id, http.RequestAborted):
                IReadOnlyList<string> fresh = await factors.NewRecoveryCodesAsync(user, address, http.RequestAborted);
                await ShowAccountAsync(http, session, notice: "New recovery codes: the old ones no longer work.", recoveryCodes: fresh);
                break;
            default:
                await ShowAccountAsync(http, session, error: "That is not something this page can do.", status: StatusCodes.Status400BadRequest);
                break;
        }
    }

    /// <summary>
    /// A new passkey, made by the browser for the ceremony the page carried. The first factor of an account also makes its
    /// recovery codes (shown once) and ends the user's other sessions and tokens; this browser keeps its session.
    /// </summary>
    private async Task AddPasskeyAsync(HttpContext http, LoginSession session, IFormCollection fields)
    {
        UserAccount user = session.User;
        bool first = !await factors.HasAnyAsync(user.Id, http.RequestAborted);
        (PasskeyEntry? added, string? failure) = await passkeys.RegisterAsync(user, fields["ceremony"].ToString(), fields["credential"].ToString(),
            fields["name"].ToString(), http.Connection.RemoteIpAddress, http.RequestAborted);
        if (added is null)
        {
            await ShowAccountAsync(http, session, error: failure, status: StatusCodes.Status400BadRequest);
            return;
        }

        if (!first)
        {
            await ShowAccountAsync(http, session, notice: $"The passkey {added.Name} is added.");
            return;
        }

        // Its registration proves nothing signed (attestation "none"): this browser's sign-in stays what it was, and an app that
        // asks for more gets a step-up with the new passkey.
        IReadOnlyList<string> codes = await factors.NewRecoveryCodesAsync(user, http.Connection.RemoteIpAddress, http.RequestAborted);
        await ShowAccountAsync(http, await EndOtherSessionsAsync(http, session, "passkey added", session.Amr),
            notice: $"The passkey {added.Name} is added. Your other sessions are signed out.", recoveryCodes: codes);
    }

    /// <summary>
    /// A new password, given the current one (checked through the login throttle, so this form guesses no faster than the login
    /// page). Like any password change it ends every session and token of the user; this browser gets a new session at once.
    /// </summary>
    private async Task ChangePasswordAsync(HttpContext http, LoginSession session, string current, string next)
    {
        if (current.Length == 0 || next.Length == 0)
        {
            await ShowAccountAsync(http, session, error: "Enter your current password and the new one.");
            return;
        }

        LoginResult check = current.Length > PasswordHasher.MaximumPasswordLength
            ? LoginResult.Failed("too long")
            : await passwords.LoginAsync(session.User.Username, current, http.Connection.RemoteIpAddress, clientId: null, http.RequestAborted);
        if (check.User is null)
        {
            await ShowAccountAsync(http, session, error: check.RetryAfter is null ? "The current password is not right." : "Too many attempts. Try again later.",
                status: check.RetryAfter is null ? StatusCodes.Status400BadRequest : StatusCodes.Status429TooManyRequests);
            return;
        }

        AccountResult changed = await accounts.SetPasswordAsync(session.User.Username, next, session.User.Username, http.RequestAborted);
        if (!changed.Succeeded)
        {
            await ShowAccountAsync(http, session, error: changed.Error, status: StatusCodes.Status400BadRequest);
            return;
        }

        // The change ended this session with the others; the user has just proven the password, so this browser stays signed in.
        await ShowAccountAsync(http, await RenewAsync(http, changed.User!, session.Amr), notice: "Your password is changed. Your other sessions are signed out.");
    }

    /// <summary>The login form of the account page: the same throttle, timing and hashing gate as every password login.</summary>
    private async Task LoginAsync(HttpContext http)
    {
        if (await ReadFormAsync(http) is not { } fields)
            return;
        string username = fields["username"].ToString();
        string password = fields["password"].ToString();
        if (username.Length == 0 || password.Length == 0)
        {
            await ShowLoginAsync(http, username, "Enter your username and password.");
            return;
        }

        LoginResult result = username.Length > Usernames.MaximumLength || password.Length > PasswordHasher.MaximumPasswordLength
            ? LoginResult.Failed("too long")
            : await passwords.LoginAsync(username, password, http.Connection.RemoteIpAddress, clientId: null, http.RequestAborted);
        if (result.RetryAfter is { } wait)
        {
            string message = SignInMessages.TooManyAttempts(http.Response, wait);
            await ShowLoginAsync(http, username, result.IsBusy ? SignInMessages.Busy : message,
                result.IsBusy ? StatusCodes.Status503ServiceUnavailable : StatusCodes.Status429TooManyRequests);
            return;
        }

        if (result.User is not { } user)
        {
            await ShowLoginAsync(http, username, "The username or password is incorrect.");
            return;
        }

        if (await factors.HasAnyAsync(user.Id, http.RequestAborted))
        {
            await ShowSecondFactorAsync(http, user, pending.Protect(user, [SignInMethods.Password]), error: null);
            return;
        }

        await StartSessionAsync(http, user, result.AuthenticatedAt, [SignInMethods.Password]);
    }

    /// <summary>"Sign in with a passkey" on the account page's login form.</summary>
    private async Task PasskeyAsync(HttpContext http)
    {
        if (await ReadFormAsync(http) is not { } fields)
            return;
        PasskeyResult result = await passkeys.VerifyAsync(fields["ceremony"].ToString(), fields["credential"].ToString(), expected: null,
            http.Connection.RemoteIpAddress, http.RequestAborted);
        if (result.User is not { } user)
        {
            await ShowLoginAsync(http, username: null, result.Failure);
            return;
        }

        await StartSessionAsync(http, user, time.GetUtcNow(), SignInMethods.WithSecondFactor(result.Methods!));
    }

    private async Task SecondFactorAsync(HttpContext http)
    {
        if (await ReadFormAsync(http) is not { } fields)
            return;
        string pendingValue = fields["pending"].ToString();
        if (await pending.ReadAsync(pendingValue, http.RequestAborted) is not { } halfway)
        {
            await ShowLoginAsync(http, username: null, SignInMessages.Expired);
            return;
        }

        if (fields["credential"].ToString().Length > 0)
        {
            PasskeyResult used = await passkeys.VerifyAsync(fields["ceremony"].ToString(), fields["credential"].ToString(), halfway.User,
                http.Connection.RemoteIpAddress, http.RequestAborted);
            if (!used.Succeeded)
                await ShowSecondFactorAsync(http, halfway.User, pendingValue, used.Failure);
            else
                await StartSessionAsync(http, halfway.User, time.GetUtcNow(), SignInMethods.WithSecondFactor(halfway.Amr, [.. used.Methods!]));
            return;
        }

        string code = fields["code"].ToString();
        if (code.Trim().Length == 0 || code.Length > 64)
        {
            await ShowSecondFactorAsync(http, halfway.User, pendingValue, SignInMessages.EnterCode);
            return;
        }

        SecondFactorResult result = await factors.VerifyAsync(halfway.User, code, http.Connection.RemoteIpAddress, http.RequestAborted);
        if (result.RetryAfter is { } wait)
        {
            await ShowSecondFactorAsync(http, halfway.User, pendingValue, SignInMessages.TooManyAttempts(http.Response, wait), StatusCodes.Status429TooManyRequests);
            return;
        }

        if (!result.Succeeded)
        {
            await ShowSecondFactorAsync(http, halfway.User, pendingValue, SignInMessages.CodeRefused(result));
            return;
        }

        await StartSessionAsync(http, halfway.User, time.GetUtcNow(), SignInMethods.WithSecondFactor(halfway.Amr, result.Method!));
    }

    private async Task StartSessionAsync(HttpContext http, UserAccount user, DateTimeOffset authTime, IReadOnlyList<string> amr)
    {
        (string secret, _) = await sessions.StartAsync(user, authTime, amr, _cookie.Read(http.Request), http.Connection.RemoteIpAddress, http.RequestAborted,
            http.Request.Headers.UserAgent.ToString());
        _cookie.Write(http.Response, secret);
        // After a form post, a redirect (303) to the page itself: a reload does not post the password again.
        http.Response.StatusCode = StatusCodes.Status303SeeOther;
        http.Response.Headers.Location = Path;
        http.Response.Headers.CacheControl = "no-store";
    }

    /// <summary>
    /// How the user signs in changed: every session and token of theirs ends (one that rests on the old way must not live on),
    /// and this browser, where they just made the change, gets a new session.
    /// </summary>
    private async Task<LoginSession> EndOtherSessionsAsync(HttpContext http, LoginSession session, string why, IReadOnlyList<string> amr)
    {
        AccountResult ended = await accounts.EndSessionsAsync(session.User.Username, session.User.Username, why, http.RequestAborted);
        return ended.User is { } user ? await RenewAsync(http, user, amr) : session;
    }

    private async Task<LoginSession> RenewAsync(HttpContext http, UserAccount user, IReadOnlyList<string> amr)
    {
        (string secret, LoginSession renewed) = await sessions.RenewAsync(user, amr, http.Connection.RemoteIpAddress, http.Request.Headers.UserAgent.ToString(),
            http.RequestAborted);
        _cookie.Write(http.Response, secret);
        return renewed;
    }

    private bool IsFresh(LoginSession session) => time.GetUtcNow() - session.AuthTime <= _freshWindow;

    private async Task ShowAccountAsync(HttpContext http, LoginSession session, string? notice = null, string? error = null,
        IReadOnlyList<string>? recoveryCodes = null, int status = StatusCodes.Status200OK)
    {
        bool enabled = await factors.HasTotpAsync(session.User.Id, http.RequestAborted);
        // The key of an enrolment in progress is shown only to a recent sign-in, as it was made for one.
        TotpEnrolment? enrolment = enabled || !IsFresh(session) ? null : await factors.PendingTotpAsync(session.User, _brand, http.RequestAborted);
        int left = await factors.CountRecoveryCodesAsync(session.User.Id, http.RequestAborted);
        AntiforgeryTokenSet tokens = antiforgery.GetAndStoreTokens(http);
        var page = new AccountPage(_brand, SignInPages.NewNonce(), Path, session.User.Username, enabled, left, enrolment,
            enrolment is null ? null : SignInPages.QrCodeDataUri(enrolment.Uri), recoveryCodes, IsFresh(session), (int)_freshWindow.TotalMinutes, tokens.FormFieldName,
            tokens.RequestToken!, notice, error)
        {
            Sessions = await sessions.ListAsync(session.User, http.RequestAborted),
            CurrentSessionId = session.SessionId,
            Consents = await consents.ListAsync(session.User.Username, http.RequestAborted) ?? [],
            Passkeys = await passkeys.ListAsync(session.User, http.RequestAborted),
            PasskeyRegistration = IsFresh(session) ? await passkeys.BeginRegistrationAsync(session.User, http.RequestAborted) : null,
        };
        await SignInPages.AccountAsync(http, page, status);
    }

    private Task ShowLoginAsync(HttpContext http, string? username, string? error, int status = StatusCodes.Status200OK)
    {
        AntiforgeryTokenSet tokens = antiforgery.GetAndStoreTokens(http);
        var page = new LoginPage(_brand, SignInPages.NewNonce(), LoginPath, "your account", "", tokens.FormFieldName, tokens.RequestToken!, username, error)
        { Passkey = passkeys.BeginSignIn(), PasskeyAction = PasskeyPath };
        return SignInPages.LoginAsync(http, page, returnTo: null, status);
    }

    private async Task ShowSecondFactorAsync(HttpContext http, UserAccount user, string pendingValue, string? error, int status = StatusCodes.Status200OK)
    {
        AntiforgeryTokenSet tokens = antiforgery.GetAndStoreTokens(http);
        bool totp = await factors.HasTotpAsync(user.Id, http.RequestAborted);
        PasskeyRequest? passkey = await factors.HasPasskeyAsync(user.Id, http.RequestAborted) ? await passkeys.BeginSignInAsync(user, http.RequestAborted) : null;
        var page = new SecondFactorPage(_brand, SignInPages.NewNonce(), SecondFactorPath, SignInMessages.SecondFactorLead(totp, passkey is not null, null), "",
            pendingValue, tokens.FormFieldName, tokens.RequestToken!, error)
        { Totp = totp, Passkey = passkey };
        await SignInPages.SecondFactorAsync(http, page, returnTo: null, status);
    }

    /// <summary>A form of ours, posted back with its antiforgery token (no other site can make one); else an error page and null.</summary>
    private async Task<IFormCollection?> ReadFormAsync(HttpContext http)
    {
        if (!http.Request.HasFormContentType || !await antiforgery.IsRequestValidAsync(http))
        {
            await SignInPages.ErrorAsync(http, _brand, "This form has expired",
                "The form was not sent from this page, or it has expired. Open your account page again.");
            return null;
        }

        return await http.Request.ReadFormAsync(http.RequestAborted);
    }

}
