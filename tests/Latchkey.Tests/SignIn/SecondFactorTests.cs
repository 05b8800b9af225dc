using System.Buffers.Binary;
using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;
using Latchkey.Clients;
using Latchkey.Storage;
using Latchkey.Tests.Support;

namespace Latchkey.Tests.SignIn;

/// <summary>
/// A second factor end to end over real HTTP: an authenticator app set up on <c>/account</c> (codes computed here from the
/// key the page shows, by RFC 6238 written out below, not by the server's library), then asked for after the password at
/// <c>/authorize</c>; recovery codes; <c>amr</c> and <c>acr</c> in the tokens; a step-up with <c>acr_values</c>; and the
/// bad inputs: a code reused, two steps off, guessed by retrying, a recovery code used twice, a form without its
/// antiforgery token, a change without a recent sign-in.
/// </summary>
public sealed partial class SecondFactorTests : IAsyncLifetime
{
    private const string Password = "correct horse battery";
    private const string Redirect = "https://app.example/callback";

    private LatchkeyTestServer _server = null!;
    private string _secret = null!;

    public async ValueTask InitializeAsync()
    {
        _server = await LatchkeyTestServer.StartAsync();
        await _server.AddUserAsync("alice", Password);
        await _server.AddUserAsync("bob", Password);
        _secret = (await BrowserFlow.AddBrowserClientAsync(_server, "webapp", [Redirect]))!;
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    /// <summary>RFC 6238 with SHA-1, 6 digits, 30 s steps, as an authenticator app computes it.</summary>
    private static string Totp(byte[] key, DateTimeOffset at)
    {
        Span<byte> counter = stackalloc byte[8];
        BinaryPrimitives.WriteInt64BigEndian(counter, at.ToUnixTimeSeconds() / 30);
        byte[] mac = HMACSHA1.HashData(key, counter);
        int offset = mac[^1] & 0x0f;
        int binary = (BinaryPrimitives.ReadInt32BigEndian(mac.AsSpan(offset, 4)) & 0x7fffffff) % 1_000_000;
        return binary.ToString("D6", System.Globalization.CultureInfo.InvariantCulture);
    }

    private static byte[] Base32Decode(string text)
    {
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        var bytes = new List<byte>();
        int buffer = 0, bits = 0;
        foreach (char c in text.TrimEnd('='))
        {
            buffer = (buffer << 5) | alphabet.IndexOf(c, StringComparison.Ordinal);
            bits += 5;
            if (bits >= 8)
            {
                bytes.Add((byte)(buffer >> (bits - 8)));
                bits -= 8;
            }
        }

        return bytes.ToArray();
    }

    private string CodeNow(byte[] key, int stepsAway = 0) => Totp(key, _server.Time.GetUtcNow().AddSeconds(30 * stepsAway));

    /// <summary>Signs in on /account with the password (and a code, when one is asked for); returns the account page.</summary>
    private static async Task<string> AccountSignInAsync(BrowserFlow browser, string username, Func<string>? code = null)
    {
        using HttpResponseMessage login = await browser.GetAsync("/account");
        Assert.Contains("to continue to <strong>your account</strong>", await login.Content.ReadAsStringAsync());
        using HttpResponseMessage afterPassword = await browser.LoginAsync(login, username, Password);
        HttpResponseMessage landed = afterPassword;
        if (code is not null)
        {
            Assert.Equal(HttpStatusCode.OK, afterPassword.StatusCode);
            Assert.Contains("Code from your authenticator app", await afterPassword.Content.ReadAsStringAsync());
            landed = await browser.SubmitAsync(afterPassword, new Dictionary<string, string> { ["code"] = code() });
        }

        Assert.Equal(HttpStatusCode.SeeOther, landed.StatusCode);
        Assert.Equal("/account", landed.Headers.Location?.OriginalString);
        using HttpResponseMessage page = await browser.GetAsync("/account");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        return await page.Content.ReadAsStringAsync();
    }

    private static async Task<HttpResponseMessage> AccountPostAsync(BrowserFlow browser, IDictionary<string, string> fields)
    {
        using HttpResponseMessage page = await browser.GetAsync("/account");
        return await browser.SubmitAsync(page, fields);
    }

    /// <summary>Alice sets up her authenticator app on /account; returns its key and the recovery codes the page showed once.</summary>
    private async Task<(byte[] Key, string[] RecoveryCodes)> EnrolAsync(BrowserFlow browser, string username = "alice")
    {
        string account = await AccountSignInAsync(browser, username);
        Assert.Contains("Set up an authenticator app", account);
        using HttpResponseMessage begun = await AccountPostAsync(browser, new Dictionary<string, string> { ["do"] = "totp-begin" });
        string html = await begun.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, begun.StatusCode);
        string secret = SecretShown().Match(html).Groups[1].Value;
        Assert.Equal(32, secret.Length); // 160 bits in base32
        Assert.Matches("<img class=\"qr\" src=\"data:image/svg\\+xml;base64,[A-Za-z0-9+/=]+\" alt=\"[^\"]+\">", WebUtility.HtmlDecode(html));
        byte[] key = Base32Decode(secret);

        using HttpResponseMessage confirmed = await browser.SubmitAsync(begun, new Dictionary<string, string> { ["do"] = "totp-confirm", ["code"] = CodeNow(key) });
        string after = await confirmed.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, confirmed.StatusCode);
        Assert.Contains("The authenticator app is on.", after);
        string[] codes = RecoveryCodeShown().Matches(after).Select(m => m.Groups[1].Value).ToArray();
        Assert.Equal(10, codes.Length);
        Assert.Equal(10, codes.Distinct().Count());
        // A person takes a moment before they sign in anywhere again (the test's clock stands still otherwise, and a sign-in at
        // the very millisecond of the set-up's cut-off of the user's sessions would be refused as begun before it).
        _server.Time.Advance(TimeSpan.FromSeconds(1));
        return (key, codes);
    }

    /// <summary>A fresh browser's sign-in at /authorize with the password; returns the page that follows it.</summary>
    private async Task<(BrowserFlow Browser, HttpResponseMessage AfterPassword, string Verifier)> PasswordAtAuthorizeAsync(
        IDictionary<string, string?>? extra = null, string username = "alice")
    {
        var browser = new BrowserFlow(_server);
        (string verifier, string challenge) = BrowserFlow.Pkce();
        using HttpResponseMessage page = await browser.GetAsync(BrowserFlow.AuthorizeUrl("webapp", Redirect, challenge, extra));
        return (browser, await browser.LoginAsync(page, username, Password), verifier);
    }

    private async Task<JsonElement> ExchangeAsync(BrowserFlow browser, HttpResponseMessage callback, string verifier) =>
        await HttpAssert.OkJsonAsync(await browser.ExchangeAsync("webapp", BrowserFlow.Callback(callback, Redirect)["code"], Redirect, verifier, _secret));

    private async Task<IReadOnlyList<AuditEvent>> AuditAsync(string type) =>
        (await _server.Services.GetRequiredService<IAuditLog>().ReadAsync(DateTimeOffset.MinValue, CancellationToken.None)).Where(e => e.Type == type).ToList();

    [Fact]
    public void TheTestsTotp_MatchesRfc6238sTestVector()
    {
        // RFC 6238 Appendix B, SHA-1: at 59 s the 8-digit code is 94287082; the 6-digit one is its last six digits.
        Assert.Equal("287082", Totp("12345678901234567890"u8.ToArray(), DateTimeOffset.FromUnixTimeSeconds(59)));
        Assert.Equal("081804", Totp("12345678901234567890"u8.ToArray(), DateTimeOffset.FromUnixTimeSeconds(1111111109)));
    }

    [Fact]
    public async Task PasswordOnly_TokensSayPwdAndThePasswordLevel_DiscoveryListsTheLevels()
    {
        (BrowserFlow browser, HttpResponseMessage callback, string verifier) = await PasswordAtAuthorizeAsync();
        using (browser)
        {
            JsonElement tokens = await ExchangeAsync(browser, callback, verifier);
            JsonElement id = HttpAssert.Part(tokens.GetProperty("id_token").GetString()!, 1);
            JsonElement access = HttpAssert.Part(tokens.GetProperty("access_token").GetString()!, 1);
            Assert.Equal(["pwd"], id.GetProperty("amr").EnumerateArray().Select(m => m.GetString()));
            Assert.Equal("urn:latchkey:acr:password", id.GetProperty("acr").GetString());
            Assert.Equal("urn:latchkey:acr:password", access.GetProperty("acr").GetString());
            Assert.Equal(id.GetProperty("auth_time").GetInt64(), access.GetProperty("auth_time").GetInt64());
        }

        JsonElement discovery = await HttpAssert.OkJsonAsync(await _server.Client.GetAsync("/.well-known/openid-configuration"));
        Assert.Equal(["urn:latchkey:acr:password", "urn:latchkey:acr:mfa", "phr"],
            discovery.GetProperty("acr_values_supported").EnumerateArray().Select(v => v.GetString()));
        Assert.Contains("amr", discovery.GetProperty("claims_supported").EnumerateArray().Select(v => v.GetString()));
    }

    [Fact]
    public async Task Enrolled_PasswordThenCode_TokensSayOtpAndMfa_RefreshKeepsTheLevel()
    {
        using var account = new BrowserFlow(_server);
        (byte[] key, _) = await EnrolAsync(account);
        Assert.Single(await AuditAsync(Latchkey.Audit.AuditEvents.FactorAdded));
        // The browser that set the app up proved it with its first code: its new session has both factors, and signs in to
        // the app without asking again.
        (string accountVerifier, string accountChallenge) = BrowserFlow.Pkce();
        using HttpResponseMessage silent = await account.GetAsync(BrowserFlow.AuthorizeUrl("webapp", Redirect, accountChallenge));
        JsonElement fromAccount = await ExchangeAsync(account, silent, accountVerifier);
        Assert.Equal(["pwd", "otp", "mfa"], HttpAssert.Part(fromAccount.GetProperty("id_token").GetString()!, 1).GetProperty("amr").EnumerateArray()
            .Select(m => m.GetString()));

        (BrowserFlow browser, HttpResponseMessage afterPassword, string verifier) = await PasswordAtAuthorizeAsync();
        using (browser)
        {
            // No code yet, no session yet: the password alone got the user as far as this page.
            Assert.Equal(HttpStatusCode.OK, afterPassword.StatusCode);
            Assert.Contains("Enter your code", await afterPassword.Content.ReadAsStringAsync());
            Assert.Null(browser.SessionCookie);

            _server.Time.Advance(TimeSpan.FromSeconds(30)); // the enrolment used this step's code
            using HttpResponseMessage callback = await browser.SubmitAsync(afterPassword, new Dictionary<string, string> { ["code"] = CodeNow(key) });
            JsonElement tokens = await ExchangeAsync(browser, callback, verifier);
            JsonElement id = HttpAssert.Part(tokens.GetProperty("id_token").GetString()!, 1);
            Assert.Equal(["pwd", "otp", "mfa"], id.GetProperty("amr").EnumerateArray().Select(m => m.GetString()));
            Assert.Equal("urn:latchkey:acr:mfa", id.GetProperty("acr").GetString());
            Assert.Equal("urn:latchkey:acr:mfa", HttpAssert.Part(tokens.GetProperty("access_token").GetString()!, 1).GetProperty("acr").GetString());

            JsonElement refreshed = await HttpAssert.OkJsonAsync(await _server.PostFormAsync("/token", new Dictionary<string, string>
            {
                ["grant_type"] = "refresh_token",
                ["refresh_token"] = tokens.GetProperty("refresh_token").GetString()!,
            }, ("webapp", _secret)));
            Assert.Equal("urn:latchkey:acr:mfa", HttpAssert.Part(refreshed.GetProperty("access_token").GetString()!, 1).GetProperty("acr").GetString());
        }

        Assert.Contains(await AuditAsync(Latchkey.Audit.AuditEvents.FactorUsed), e => e.Subject == "alice");
    }

    [Fact]
    public async Task Enrolled_PasswordGrant_IsRefused()
    {
        using var account = new BrowserFlow(_server);
        await EnrolAsync(account);

        using HttpResponseMessage response = await _server.PostTokenAsync("alice", Password);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("second factor", await response.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, (await _server.PostTokenAsync("bob", Password)).StatusCode);
    }

    [Fact]
    public async Task Code_ReusedInItsWindow_OrTwoStepsOff_IsRefused_OneStepOffIsAccepted()
    {
        using var account = new BrowserFlow(_server);
        (byte[] key, _) = await EnrolAsync(account);
        _server.Time.Advance(TimeSpan.FromSeconds(60));

        (BrowserFlow first, HttpResponseMessage firstPage, _) = await PasswordAtAuthorizeAsync();
        using (first)
        {
            string previousStep = CodeNow(key, stepsAway: -1);
            using HttpResponseMessage accepted = await first.SubmitAsync(firstPage, new Dictionary<string, string> { ["code"] = previousStep });
            BrowserFlow.Callback(accepted, Redirect);

            // The same code again, from another browser, within its window: refused, no session.
            (BrowserFlow second, HttpResponseMessage secondPage, _) = await PasswordAtAuthorizeAsync();
            using (second)
            {
                using HttpResponseMessage replayed = await second.SubmitAsync(secondPage, new Dictionary<string, string> { ["code"] = previousStep });
                Assert.Equal(HttpStatusCode.OK, replayed.StatusCode);
                Assert.Contains("That code has been used already", await replayed.Content.ReadAsStringAsync());
                Assert.Null(second.SessionCookie);

                foreach (int off in new[] { -2, 2 })
                {
                    using HttpResponseMessage wrong = await second.SubmitAsync(secondPage, new Dictionary<string, string> { ["code"] = CodeNow(key, off) });
                    Assert.Contains("That code is not right", await wrong.Content.ReadAsStringAsync());
                }

                Assert.Null(second.SessionCookie);
                using HttpResponseMessage now = await second.SubmitAsync(secondPage, new Dictionary<string, string> { ["code"] = CodeNow(key) });
                BrowserFlow.Callback(now, Redirect);
            }
        }
    }

    [Fact]
    public async Task Code_GuessedByRetrying_TheThrottleLocksFromTheTenthWrongCode_EvenTheRightOneWaits()
    {
        using var account = new BrowserFlow(_server);
        (byte[] key, _) = await EnrolAsync(account);
        _server.Time.Advance(TimeSpan.FromSeconds(30));
        (BrowserFlow browser, HttpResponseMessage page, _) = await PasswordAtAuthorizeAsync();
        using (browser)
        {
            string right = CodeNow(key);
            int guess = 0;
            for (int i = 1; i <= 10; i++)
            {
                string wrong = (guess++).ToString("D6", System.Globalization.CultureInfo.InvariantCulture);
                if (wrong == right || wrong == CodeNow(key, -1) || wrong == CodeNow(key, 1))
                    wrong = (guess++).ToString("D6", System.Globalization.CultureInfo.InvariantCulture);
                using HttpResponseMessage refused = await browser.SubmitAsync(page, new Dictionary<string, string> { ["code"] = wrong });
                Assert.Equal(HttpStatusCode.OK, refused.StatusCode);
            }

            using HttpResponseMessage locked = await browser.SubmitAsync(page, new Dictionary<string, string> { ["code"] = right });
            Assert.Equal((HttpStatusCode)429, locked.StatusCode);
            Assert.NotNull(locked.Headers.RetryAfter);
            Assert.Contains("Too many attempts", await locked.Content.ReadAsStringAsync());
            Assert.Null(browser.SessionCookie);
        }

        Assert.Equal(10, (await AuditAsync(Latchkey.Audit.AuditEvents.FactorFailed)).Count);
    }

    [Fact]
    public async Task RecoveryCode_SignsInOnce_ThenIsRefused()
    {
        using var account = new BrowserFlow(_server);
        (_, string[] codes) = await EnrolAsync(account);

        (BrowserFlow first, HttpResponseMessage page, string verifier) = await PasswordAtAuthorizeAsync();
        using (first)
        {
            // Typed as a person might: upper case, without the dashes.
            using HttpResponseMessage callback = await first.SubmitAsync(page, new Dictionary<string, string> { ["code"] = codes[3].Replace("-", "").ToUpperInvariant() });
            JsonElement id = HttpAssert.Part((await ExchangeAsync(first, callback, verifier)).GetProperty("id_token").GetString()!, 1);
            Assert.Equal(["pwd", "otp", "mfa"], id.GetProperty("amr").EnumerateArray().Select(m => m.GetString()));
        }

        (BrowserFlow second, HttpResponseMessage again, _) = await PasswordAtAuthorizeAsync();
        using (second)
        {
            using HttpResponseMessage refused = await second.SubmitAsync(again, new Dictionary<string, string> { ["code"] = codes[3] });
            Assert.Contains("That code is not right", await refused.Content.ReadAsStringAsync());
            Assert.Null(second.SessionCookie);
        }

        AuditEvent used = Assert.Single(await AuditAsync(Latchkey.Audit.AuditEvents.RecoveryCodeUsed));
        Assert.Equal("9 left", used.Detail);
    }

    [Fact]
    public async Task Enrolment_WithoutARecentSignIn_IsRefusedAndChangesNothing_ThenSigningInAgainAllowsIt()
    {
        using var browser = new BrowserFlow(_server);
        string page = await AccountSignInAsync(browser, "alice");
        Assert.Contains("Set up an authenticator app", page);
        _server.Time.Advance(TimeSpan.FromMinutes(6)); // past Latchkey:Mfa:FreshLoginWindow (5 minutes)

        string stale = await (await browser.GetAsync("/account")).Content.ReadAsStringAsync();
        Assert.DoesNotContain("Set up an authenticator app", stale);
        Assert.Contains("Sign in again", stale);
        // The button is not shown; a form posted all the same is refused.
        using HttpResponseMessage refused = await AccountPostAsync(browser, new Dictionary<string, string> { ["do"] = "totp-begin" });
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Contains("needs a recent sign-in", await refused.Content.ReadAsStringAsync());
        string user = (await _server.Services.GetRequiredService<Latchkey.Accounts.UserAccounts>().FindAsync("alice", CancellationToken.None))!.Id;
        Assert.Null(await _server.Services.GetRequiredService<ISecondFactorStore>().FindTotpAsync(user, CancellationToken.None));

        using HttpResponseMessage login = await AccountPostAsync(browser, new Dictionary<string, string> { ["do"] = "sign-in-again" });
        using HttpResponseMessage signedIn = await browser.LoginAsync(login, "alice", Password);
        Assert.Equal(HttpStatusCode.SeeOther, signedIn.StatusCode);
        Assert.Contains("Set up an authenticator app", await (await browser.GetAsync("/account")).Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task AccountForm_WithoutItsAntiforgeryToken_IsRefusedAndChangesNothing()
    {
        using var browser = new BrowserFlow(_server);
        await AccountSignInAsync(browser, "alice");

        using HttpResponseMessage forged = await browser.Http.PostAsync("/account",
            new FormUrlEncodedContent(new Dictionary<string, string> { ["do"] = "totp-begin" }));

        Assert.Equal(HttpStatusCode.BadRequest, forged.StatusCode);
        Assert.Contains("This form has expired", await forged.Content.ReadAsStringAsync());
        Assert.Equal(0L, await _server.ScalarAsync("SELECT COUNT(*) FROM totp_factors"));
    }

    [Fact]
    public async Task SecondFactorForm_WithAForgedPendingSignIn_GoesBackToTheLogin()
    {
        using var account = new BrowserFlow(_server);
        await EnrolAsync(account);
        (BrowserFlow browser, HttpResponseMessage page, _) = await PasswordAtAuthorizeAsync();
        using (browser)
        {
            using HttpResponseMessage forged = await browser.SubmitAsync(page, new Dictionary<string, string> { ["pending"] = "CfDJ8forged", ["code"] = "123456" });

            Assert.Contains("Your sign-in has expired", await forged.Content.ReadAsStringAsync());
            Assert.Null(browser.SessionCookie);
        }
    }

    [Fact]
    public async Task TurningTheAppOn_EndsAPasswordSession_TheNextSignInAsksForTheCode_ThenAcrValuesNeedNothingMore()
    {
        // Alice signs in with her password alone, and gets a refresh token; then she sets up the app elsewhere.
        (BrowserFlow browser, HttpResponseMessage callback, string firstVerifier) = await PasswordAtAuthorizeAsync();
        using (browser)
        {
            string refreshToken = (await ExchangeAsync(browser, callback, firstVerifier)).GetProperty("refresh_token").GetString()!;
            using var account = new BrowserFlow(_server);
            (byte[] key, _) = await EnrolAsync(account);
            _server.Time.Advance(TimeSpan.FromSeconds(30));

            // What rested on the password alone has ended: the session (prompt=none: login_required) and the refresh token.
            (string verifier, string challenge) = BrowserFlow.Pkce();
            var mfa = new Dictionary<string, string?> { ["acr_values"] = "urn:latchkey:acr:mfa" };
            using HttpResponseMessage silent = await browser.GetAsync(BrowserFlow.AuthorizeUrl("webapp", Redirect, challenge,
                new Dictionary<string, string?>(mfa) { ["prompt"] = "none" }));
            Assert.Equal("login_required", BrowserFlow.Callback(silent, Redirect)["error"]);
            using HttpResponseMessage refreshed = await _server.PostFormAsync("/token", new Dictionary<string, string>
            {
                ["grant_type"] = "refresh_token",
                ["refresh_token"] = refreshToken,
            }, ("webapp", _secret));
            Assert.Equal(HttpStatusCode.BadRequest, refreshed.StatusCode);

            using HttpResponseMessage login = await browser.GetAsync(BrowserFlow.AuthorizeUrl("webapp", Redirect, challenge, mfa));
            using HttpResponseMessage codePage = await browser.LoginAsync(login, "alice", Password);
            Assert.Contains("Enter your code", await codePage.Content.ReadAsStringAsync());
            using HttpResponseMessage done = await browser.SubmitAsync(codePage, new Dictionary<string, string> { ["code"] = CodeNow(key) });
            JsonElement id = HttpAssert.Part((await ExchangeAsync(browser, done, verifier)).GetProperty("id_token").GetString()!, 1);
            Assert.Equal("urn:latchkey:acr:mfa", id.GetProperty("acr").GetString());

            // The two-factor session satisfies the same request without asking again.
            (string _, string challenge2) = BrowserFlow.Pkce();
            using HttpResponseMessage silentNow = await browser.GetAsync(BrowserFlow.AuthorizeUrl("webapp", Redirect, challenge2, mfa));
            Assert.True(BrowserFlow.Callback(silentNow, Redirect).ContainsKey("code"));
        }
    }

    [Fact]
    public async Task ConsentFormPostedDirectly_FromAPasswordSession_ForAClientRequiringMfa_IssuesNoCode()
    {
        await BrowserFlow.AddBrowserClientAsync(_server, "payroll", [Redirect], isPublic: true, firstParty: false);
        ClientResult strict = await _server.Services.GetRequiredService<ClientAccounts>().AddAsync("strict", ["authorization_code"], [], null, "test",
            CancellationToken.None, null, new BrowserSettings([Redirect], [], Public: true, FirstParty: false) { RequireMfa = true });
        Assert.True(strict.Succeeded, strict.Error);
        using var browser = new BrowserFlow(_server);
        await AccountSignInAsync(browser, "alice"); // a password-only session, and the page's antiforgery token
        using HttpResponseMessage accountPage = await browser.GetAsync("/account");
        (_, Dictionary<string, string> hidden) = BrowserFlow.Form(await accountPage.Content.ReadAsStringAsync());
        (_, string challenge) = BrowserFlow.Pkce();
        string request = BrowserFlow.AuthorizeUrl("strict", Redirect, challenge).Split('?', 2)[1];

        using HttpResponseMessage forged = await browser.Http.PostAsync("/authorize/consent", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            [hidden.Keys.Single(k => k.StartsWith("__", StringComparison.Ordinal) || k.Contains("RequestVerification", StringComparison.Ordinal))] =
                hidden.Single(p => p.Key.StartsWith("__", StringComparison.Ordinal) || p.Key.Contains("RequestVerification", StringComparison.Ordinal)).Value,
            ["request"] = request,
            ["decision"] = "allow",
        }));

        Assert.Equal(HttpStatusCode.OK, forged.StatusCode); // the login page again, on the way to setting up a factor; no redirect with a code
        Assert.Contains("autocomplete=\"current-password\"", await forged.Content.ReadAsStringAsync());
        Assert.Null(forged.Headers.Location);
    }

    [Fact]
    public async Task WrongCodes_FromTenDifferentAddresses_LockTheCodes_EvenTheRightOneFromAnEleventh()
    {
        using var account = new BrowserFlow(_server);
        (byte[] key, _) = await EnrolAsync(account);
        _server.Time.Advance(TimeSpan.FromSeconds(30));
        string right = CodeNow(key);
        string wrong = right == "000000" ? "111111" : "000000";
        for (int i = 2; i <= 11; i++)
        {
            using var attacker = new BrowserFlow(_server, $"127.0.0.{i}");
            (_, string challenge) = BrowserFlow.Pkce();
            using HttpResponseMessage login = await attacker.GetAsync(BrowserFlow.AuthorizeUrl("webapp", Redirect, challenge));
            using HttpResponseMessage codePage = await attacker.LoginAsync(login, "alice", Password);
            using HttpResponseMessage refused = await attacker.SubmitAsync(codePage, new Dictionary<string, string> { ["code"] = wrong });
            Assert.Equal(HttpStatusCode.OK, refused.StatusCode);
        }

        using var last = new BrowserFlow(_server, "127.0.0.12");
        (_, string lastChallenge) = BrowserFlow.Pkce();
        using HttpResponseMessage lastLogin = await last.GetAsync(BrowserFlow.AuthorizeUrl("webapp", Redirect, lastChallenge));
        using HttpResponseMessage lastCodePage = await last.LoginAsync(lastLogin, "alice", Password);
        using HttpResponseMessage locked = await last.SubmitAsync(lastCodePage, new Dictionary<string, string> { ["code"] = right });
        Assert.Equal((HttpStatusCode)429, locked.StatusCode);
        Assert.Null(last.SessionCookie);
        Assert.Contains(await AuditAsync(Latchkey.Audit.AuditEvents.FactorFailed), e => e.Detail!.Contains("10 wrong codes in a row"));

        // An hour later, one try: the right code gets in.
        _server.Time.Advance(TimeSpan.FromHours(1) + TimeSpan.FromSeconds(1));
        using HttpResponseMessage later = await last.SubmitAsync(lastCodePage, new Dictionary<string, string> { ["code"] = CodeNow(key) });
        Assert.Equal(HttpStatusCode.OK, later.StatusCode); // the pending sign-in expired meanwhile (5 minutes): the login page
    }

    [Fact]
    public async Task StepUp_AUserWithoutASecondFactor_GetsUnmetAuthenticationRequirements()
    {
        (BrowserFlow browser, HttpResponseMessage callback, _) = await PasswordAtAuthorizeAsync(
            new Dictionary<string, string?> { ["acr_values"] = "phr urn:latchkey:acr:mfa", ["state"] = "s1" }, username: "bob");
        using (browser)
        {
            Dictionary<string, string> answer = BrowserFlow.Callback(callback, Redirect);
            Assert.Equal("unmet_authentication_requirements", answer["error"]);
            Assert.Equal("s1", answer["state"]);
        }

        // An acr value Latchkey does not know asks for nothing it can give: the sign-in goes on.
        (BrowserFlow other, HttpResponseMessage plain, _) = await PasswordAtAuthorizeAsync(
            new Dictionary<string, string?> { ["acr_values"] = "urn:example:unknown" }, username: "bob");
        using (other)
            Assert.True(BrowserFlow.Callback(plain, Redirect).ContainsKey("code"));
    }

    [Fact]
    public async Task TurningTheAppOff_OnlyWithARecentSignIn_ThenThePasswordAloneSignsIn()
    {
        using var account = new BrowserFlow(_server);
        await EnrolAsync(account);

        using HttpResponseMessage off = await AccountPostAsync(account, new Dictionary<string, string> { ["do"] = "totp-remove" });
        Assert.Contains("The authenticator app is off", await off.Content.ReadAsStringAsync());
        Assert.Single(await AuditAsync(Latchkey.Audit.AuditEvents.FactorRemoved));

        (BrowserFlow browser, HttpResponseMessage callback, _) = await PasswordAtAuthorizeAsync();
        using (browser)
            Assert.True(BrowserFlow.Callback(callback, Redirect).ContainsKey("code"));
        Assert.Equal(0L, await _server.ScalarAsync("SELECT COUNT(*) FROM recovery_codes"));
        Assert.Equal(HttpStatusCode.OK, (await _server.PostTokenAsync("alice", Password)).StatusCode);
    }

    /// <summary>On the set-up page shown during a sign-in: the key read off the page, its first code, then the recovery codes page.</summary>
    private async Task<(byte[] Key, string ContinueUrl)> EnrolDuringSignInAsync(BrowserFlow browser, HttpResponseMessage enrolPage)
    {
        string html = await enrolPage.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, enrolPage.StatusCode);
        Assert.Contains("Set up an authenticator app", html);
        byte[] key = Base32Decode(SecretShown().Match(html).Groups[1].Value);
        string? sessionBefore = browser.SessionCookie;
        using HttpResponseMessage wrong = await browser.SubmitAsync(enrolPage, new Dictionary<string, string> { ["code"] = CodeNow(key, 3) });
        Assert.Contains("That code is not right", await wrong.Content.ReadAsStringAsync());
        Assert.Equal(sessionBefore, browser.SessionCookie);
        // The page shown again keeps the same key.
        Assert.Equal(Base32Decode(SecretShown().Match(await wrong.Content.ReadAsStringAsync()).Groups[1].Value), key);

        using HttpResponseMessage codes = await browser.SubmitAsync(wrong, new Dictionary<string, string> { ["code"] = CodeNow(key) });
        string shown = await codes.Content.ReadAsStringAsync();
        Assert.Equal(10, RecoveryCodeShown().Matches(shown).Count);
        Assert.NotNull(browser.SessionCookie);
        Assert.NotEqual(sessionBefore, browser.SessionCookie);
        string continueUrl = WebUtility.HtmlDecode(ContinueLink().Match(shown).Groups[1].Value);
        Assert.StartsWith("/authorize?", continueUrl);
        return (key, continueUrl);
    }

    [Fact]
    public async Task PolicyEveryone_AUserWithoutAFactor_SetsOneUpAtSignIn_ThenGoesOnWithTwoFactors_ThePasswordGrantRefuses()
    {
        await using LatchkeyTestServer strict = await LatchkeyTestServer.StartAsync(o => o.Mfa.Require = "everyone");
        await strict.AddUserAsync("carol", Password);
        string secret = (await BrowserFlow.AddBrowserClientAsync(strict, "webapp", [Redirect]))!;
        using var browser = new BrowserFlow(strict);
        (string verifier, string challenge) = BrowserFlow.Pkce();
        using HttpResponseMessage page = await browser.GetAsync(BrowserFlow.AuthorizeUrl("webapp", Redirect, challenge));

        using HttpResponseMessage enrol = await browser.LoginAsync(page, "carol", Password);
        (byte[] key, string continueUrl) = await EnrolDuringSignInAsync(browser, enrol);

        using HttpResponseMessage callback = await browser.GetAsync(continueUrl);
        JsonElement tokens = await HttpAssert.OkJsonAsync(await browser.ExchangeAsync("webapp", BrowserFlow.Callback(callback, Redirect)["code"], Redirect,
            verifier, secret));
        JsonElement id = HttpAssert.Part(tokens.GetProperty("id_token").GetString()!, 1);
        Assert.Equal(["pwd", "otp", "mfa"], id.GetProperty("amr").EnumerateArray().Select(m => m.GetString()));
        Assert.Equal((HttpStatusCode)400, (await strict.PostTokenAsync("carol", Password)).StatusCode);
        Assert.NotEmpty(key);
    }

    [Fact]
    public async Task ClientRequiresMfa_APasswordSession_SignsInAgainAndSetsUpTheApp_OtherClientsAreUnchanged()
    {
        ClientResult added = await _server.Services.GetRequiredService<ClientAccounts>().AddAsync("strict", ["authorization_code"], [], null, "test",
            CancellationToken.None, null, new BrowserSettings([Redirect], [], Public: true, FirstParty: true) { RequireMfa = true });
        Assert.True(added.Succeeded, added.Error);
        Assert.True(added.Client!.RequireMfa);
        ClientResult withPassword = await _server.Services.GetRequiredService<ClientAccounts>().AddAsync("strict2", ["authorization_code", "password"], [],
            null, "test", CancellationToken.None, null, new BrowserSettings([Redirect], [], Public: false, FirstParty: true) { RequireMfa = true });
        Assert.Contains("cannot have the password grant", withPassword.Error);

        (BrowserFlow browser, HttpResponseMessage first, _) = await PasswordAtAuthorizeAsync();
        using (browser)
        {
            BrowserFlow.Callback(first, Redirect); // webapp: the password was enough
            (string verifier, string challenge) = BrowserFlow.Pkce();
            using HttpResponseMessage again = await browser.GetAsync(BrowserFlow.AuthorizeUrl("strict", Redirect, challenge));
            Assert.Contains("autocomplete=\"current-password\"", await again.Content.ReadAsStringAsync());
            using HttpResponseMessage enrol = await browser.LoginAsync(again, "alice", Password);
            (_, string continueUrl) = await EnrolDuringSignInAsync(browser, enrol);
            using HttpResponseMessage callback = await browser.GetAsync(continueUrl);
            JsonElement tokens = await HttpAssert.OkJsonAsync(await browser.ExchangeAsync("strict", BrowserFlow.Callback(callback, Redirect)["code"], Redirect,
                verifier));
            Assert.Equal("urn:latchkey:acr:mfa", HttpAssert.Part(tokens.GetProperty("access_token").GetString()!, 1).GetProperty("acr").GetString());
        }
    }

    [Fact]
    public async Task MfaReset_ThroughTheAdminApi_RemovesTheFactorAndCodes_Audited_ThenThePasswordAloneSignsIn()
    {
        await _server.AddUserAsync("root", Password, "admin");
        using var account = new BrowserFlow(_server);
        await EnrolAsync(account);
        string adminToken = await _server.GetAdminTokenAsync("root", Password);

        using HttpResponseMessage missing = await AdminHttp.SendAsync(_server.Client, HttpMethod.Post, "/admin/users/nobody/mfa/reset", adminToken);
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        using HttpResponseMessage reset = await AdminHttp.SendAsync(_server.Client, HttpMethod.Post, "/admin/users/alice/mfa/reset", adminToken);

        Assert.Equal("alice", (await HttpAssert.OkJsonAsync(reset)).GetProperty("username").GetString());
        Assert.Equal(0L, await _server.ScalarAsync("SELECT COUNT(*) FROM totp_factors"));
        Assert.Equal(0L, await _server.ScalarAsync("SELECT COUNT(*) FROM recovery_codes"));
        AuditEvent audited = Assert.Single(await AuditAsync(Latchkey.Audit.AuditEvents.MfaReset));
        Assert.Equal(("root", "alice"), (audited.Actor, audited.Subject));
        (BrowserFlow browser, HttpResponseMessage callback, _) = await PasswordAtAuthorizeAsync();
        using (browser)
            Assert.True(BrowserFlow.Callback(callback, Redirect).ContainsKey("code"));
    }

    [Fact]
    public async Task PolicyAdmins_ThePasswordGrantRefusesAnAdmin_NotOthers()
    {
        await using LatchkeyTestServer strict = await LatchkeyTestServer.StartAsync(o => o.Mfa.Require = "admins");
        await strict.AddUserAsync("root", Password, "admin");
        await strict.AddUserAsync("dave", Password);

        Assert.Equal(HttpStatusCode.BadRequest, (await strict.PostTokenAsync("root", Password)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await strict.PostTokenAsync("dave", Password)).StatusCode);
    }

    [Fact]
    public async Task AccountPage_ChangePassword_NeedsTheCurrentOne_ThenOtherSessionsEndAndThisOneStays()
    {
        using var other = new BrowserFlow(_server);
        await AccountSignInAsync(other, "alice");
        using var browser = new BrowserFlow(_server);
        string page = await AccountSignInAsync(browser, "alice");
        Assert.Equal(2, Regex.Matches(page, "Signed in 20").Count);

        using HttpResponseMessage wrong = await AccountPostAsync(browser,
            new Dictionary<string, string> { ["do"] = "password", ["current"] = "not my password", ["new"] = "a new password 1" });
        Assert.Equal(HttpStatusCode.BadRequest, wrong.StatusCode);
        Assert.Contains("The current password is not right", await wrong.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, (await _server.PostTokenAsync("alice", Password)).StatusCode);

        using HttpResponseMessage changed = await AccountPostAsync(browser,
            new Dictionary<string, string> { ["do"] = "password", ["current"] = Password, ["new"] = "a new password 1" });
        Assert.Contains("Your password is changed", await changed.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.BadRequest, (await _server.PostTokenAsync("alice", Password)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _server.PostTokenAsync("alice", "a new password 1")).StatusCode);
        // This browser is still signed in; the other one is back at the login form.
        Assert.Contains("Signed in as <strong>alice</strong>", await (await browser.GetAsync("/account")).Content.ReadAsStringAsync());
        Assert.Contains("to continue to <strong>your account</strong>", await (await other.GetAsync("/account")).Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task AccountPage_EndsAnotherSession_AndRevokesAnAppsAccess()
    {
        await BrowserFlow.AddBrowserClientAsync(_server, "thirdparty", [Redirect], isPublic: true, firstParty: false);
        await _server.Services.GetRequiredService<Latchkey.Accounts.Consents>().GrantAsync(
            (await _server.Services.GetRequiredService<Latchkey.Accounts.UserAccounts>().FindAsync("alice", CancellationToken.None))!, "thirdparty", ["openid"],
            CancellationToken.None);
        using var other = new BrowserFlow(_server);
        await AccountSignInAsync(other, "alice");
        using var browser = new BrowserFlow(_server);
        string page = await AccountSignInAsync(browser, "alice");
        Assert.Contains("Revoke access for thirdparty", page);
        string otherSession = SessionButton().Matches(page).Select(m => m.Groups[1].Value).Single(id => id.Length > 0 && !page.Contains($"value=\"{id}\">\n<button type=\"submit\" name=\"do\" value=\"end-session\" class=\"secondary\">Sign out of this browser"));

        using HttpResponseMessage ended = await AccountPostAsync(browser, new Dictionary<string, string> { ["do"] = "end-session", ["session"] = otherSession });
        Assert.Contains("The session has ended", await ended.Content.ReadAsStringAsync());
        Assert.Contains("to continue to <strong>your account</strong>", await (await other.GetAsync("/account")).Content.ReadAsStringAsync());

        using HttpResponseMessage revoked = await AccountPostAsync(browser, new Dictionary<string, string> { ["do"] = "revoke-consent", ["client"] = "thirdparty" });
        string after = await revoked.Content.ReadAsStringAsync();
        Assert.Contains("thirdparty no longer has access", after);
        Assert.Contains("No third-party app has access", after);
    }

    [GeneratedRegex("<input type=\"hidden\" name=\"session\" value=\"([^\"]+)\">")]
    private static partial Regex SessionButton();

    [GeneratedRegex("<a class=\"button\" href=\"([^\"]+)\">")]
    private static partial Regex ContinueLink();

    [GeneratedRegex("<code class=\"secret\" id=\"totp-secret\">([A-Z2-7]+)</code>")]
    private static partial Regex SecretShown();

    [GeneratedRegex("<li>([0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4})</li>")]
    private static partial Regex RecoveryCodeShown();
}
