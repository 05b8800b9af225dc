using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Latchkey.Accounts;
using Latchkey.Storage;
using Latchkey.Tests.Support;

namespace Latchkey.Tests.SignIn;

/// <summary>
/// Passkeys end to end over real HTTP, with an authenticator in software (<see cref="SoftwareAuthenticator"/>) standing in for
/// the browser's: added on <c>/account</c>, then signing in alone at <c>/authorize</c> or as the second factor after a
/// password; <c>amr</c> and <c>acr</c> in the tokens; rename and remove; and the bad inputs: a replayed answer, another relying
/// party or origin, another user's passkey, a counter that went back, no user verification, a form without its antiforgery
/// token, a passkey added without a recent sign-in. The same flows run in chromium with its virtual authenticator
/// (<c>PasskeyBrowserTests</c>).
/// </summary>
public sealed partial class PasskeyTests : IAsyncLifetime
{
    private const string Password = "correct horse battery";
    private const string Redirect = "https://app.example/callback";
    private const string Origin = LatchkeyTestServer.Issuer; // the relying party's one origin: the issuer's

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

    /// <summary>Signs in on /account with the password; returns the account page.</summary>
    private static async Task<HttpResponseMessage> AccountWithPasswordAsync(BrowserFlow browser, string username)
    {
        using HttpResponseMessage login = await browser.GetAsync("/account");
        using HttpResponseMessage landed = await browser.LoginAsync(login, username, Password);
        Assert.Equal(HttpStatusCode.SeeOther, landed.StatusCode);
        return await browser.GetAsync("/account");
    }

    /// <summary>
    /// The WebAuthn options a page carries for its passkey form, as JSON (what the page's script hands the browser): a
    /// registration's as the server wrote them; a sign-in's made from the challenge, relying party id and passkeys asked for.
    /// </summary>
    private static async Task<string> OptionsOf(HttpResponseMessage page)
    {
        Match form = PasskeyForm().Match(await page.Content.ReadAsStringAsync());
        Assert.True(form.Success, "the page has no passkey form");
        string Attribute(string name) => WebUtility.HtmlDecode(Regex.Match(form.Groups["attributes"].Value, $" {name}=\"([^\"]*)\"").Groups[1].Value);
        if (form.Groups["kind"].Value == "create")
            return Attribute("data-options");
        return JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["challenge"] = Attribute("data-challenge"),
            ["rpId"] = Attribute("data-rp-id"),
            ["userVerification"] = "required",
            ["allowCredentials"] = Attribute("data-allow").Split(' ', StringSplitOptions.RemoveEmptyEntries)
                .Select(id => new Dictionary<string, string> { ["type"] = "public-key", ["id"] = id }).ToArray(),
        });
    }

    /// <summary>Posts the page's passkey form with the authenticator's answer, as the page's script does.</summary>
    private static async Task<HttpResponseMessage> PostPasskeyAsync(BrowserFlow browser, HttpResponseMessage page, string credential,
        IDictionary<string, string>? extra = null)
    {
        string html = await page.Content.ReadAsStringAsync();
        Match form = PasskeyForm().Match(html);
        (_, Dictionary<string, string> fields) = BrowserFlow.Form(html);
        fields.Remove("password");
        fields["credential"] = credential;
        foreach ((string key, string value) in extra ?? new Dictionary<string, string>())
            fields[key] = value;
        return await browser.Http.PostAsync(WebUtility.HtmlDecode(form.Groups["action"].Value), new FormUrlEncodedContent(fields));
    }

    /// <summary>The user adds a passkey on /account (signed in with the password just now); returns the page after.</summary>
    private async Task<string> AddPasskeyAsync(BrowserFlow browser, SoftwareAuthenticator authenticator, string username = "alice", string name = "Laptop")
    {
        using HttpResponseMessage account = await AccountWithPasswordAsync(browser, username);
        string credential = authenticator.Create(await OptionsOf(account), Origin);
        using HttpResponseMessage added = await PostPasskeyAsync(browser, account, credential, new Dictionary<string, string> { ["name"] = name });
        string html = await added.Content.ReadAsStringAsync();
        Assert.True(added.StatusCode == HttpStatusCode.OK, html);
        Assert.Contains($"The passkey {name} is added.", html);
        _server.Time.Advance(TimeSpan.FromSeconds(1)); // a moment passes before the next sign-in (the test clock stands still)
        return html;
    }

    /// <summary>Alice's passkey "Laptop", added on /account in a browser of its own.</summary>
    private async Task<SoftwareAuthenticator> AlicesPasskeyAsync()
    {
        var authenticator = new SoftwareAuthenticator();
        using var account = new BrowserFlow(_server);
        await AddPasskeyAsync(account, authenticator);
        return authenticator;
    }

    /// <summary>A fresh browser at /authorize, on the login page.</summary>
    private async Task<(BrowserFlow Browser, HttpResponseMessage LoginPage, string Verifier)> LoginPageAsync(IDictionary<string, string?>? extra = null)
    {
        var browser = new BrowserFlow(_server);
        (string verifier, string challenge) = BrowserFlow.Pkce();
        return (browser, await browser.GetAsync(BrowserFlow.AuthorizeUrl("webapp", Redirect, challenge, extra)), verifier);
    }

    private async Task<JsonElement> IdTokenAsync(BrowserFlow browser, HttpResponseMessage callback, string verifier)
    {
        JsonElement tokens = await HttpAssert.OkJsonAsync(
            await browser.ExchangeAsync("webapp", BrowserFlow.Callback(callback, Redirect)["code"], Redirect, verifier, _secret));
        JsonElement access = HttpAssert.Part(tokens.GetProperty("access_token").GetString()!, 1);
        JsonElement id = HttpAssert.Part(tokens.GetProperty("id_token").GetString()!, 1);
        Assert.Equal(id.GetProperty("acr").GetString(), access.GetProperty("acr").GetString());
        return id;
    }

    /// <summary>The message the page shows in its error paragraph (decoded), or the whole page when it has none.</summary>
    private static async Task<string> ErrorOf(HttpResponseMessage page)
    {
        string html = await page.Content.ReadAsStringAsync();
        Match error = ErrorParagraph().Match(html);
        return error.Success ? WebUtility.HtmlDecode(error.Groups[1].Value) : html;
    }

    private static string[] Amr(JsonElement idToken) => idToken.GetProperty("amr").EnumerateArray().Select(m => m.GetString()!).ToArray();

    private async Task<IReadOnlyList<AuditEvent>> AuditAsync(string type) =>
        (await _server.Services.GetRequiredService<IAuditLog>().ReadAsync(DateTimeOffset.MinValue, CancellationToken.None)).Where(e => e.Type == type).ToList();

    private async Task<PasskeyRecord> StoredAsync(SoftwareAuthenticator authenticator) =>
        (await _server.Services.GetRequiredService<ISecondFactorStore>().FindPasskeyAsync(authenticator.CredentialId, CancellationToken.None))!;

    /// <summary>A sign-in with the passkey alone at /authorize: the page after its answer.</summary>
    private async Task<(BrowserFlow Browser, HttpResponseMessage After, string Verifier)> PasskeyAtAuthorizeAsync(SoftwareAuthenticator authenticator,
        string origin = Origin, bool userVerified = true, string? rpId = null)
    {
        (BrowserFlow browser, HttpResponseMessage page, string verifier) = await LoginPageAsync();
        using (page)
            return (browser, await PostPasskeyAsync(browser, page, authenticator.Get(await OptionsOf(page), origin, userVerified, rpId)), verifier);
    }

    [Fact]
    public async Task Added_ThenSignInWithThePasskeyAlone_TokensSayHwkUserMfa_AndThePhishingResistantLevel()
    {
        using var elsewhere = new BrowserFlow(_server);
        using (HttpResponseMessage signedIn = await AccountWithPasswordAsync(elsewhere, "alice"))
            Assert.NotNull(elsewhere.SessionCookie);
        _server.Time.Advance(TimeSpan.FromSeconds(1));
        using var authenticator = new SoftwareAuthenticator();
        using var account = new BrowserFlow(_server);
        string added = await AddPasskeyAsync(account, authenticator);
        // The password session elsewhere has ended: a factor now stands behind the account.
        using (HttpResponseMessage ended = await elsewhere.GetAsync("/account"))
            Assert.Contains("to continue to <strong>your account</strong>", await ended.Content.ReadAsStringAsync());
        // The first factor of the account: recovery codes, shown once; audited.
        Assert.Equal(10, RecoveryCode().Matches(added).Count);
        Assert.Contains("Rename passkey Laptop", added);
        Assert.Contains("Remove passkey Laptop", added);
        Assert.Equal("passkey \"Laptop\"", Assert.Single(await AuditAsync(Latchkey.Audit.AuditEvents.FactorAdded)).Detail);
        PasskeyRecord stored = await StoredAsync(authenticator);
        Assert.Equal(0u, stored.SignCount);
        Assert.False(stored.BackupEligible);
        Assert.Null(stored.LastUsedAt);

        (BrowserFlow browser, HttpResponseMessage callback, string verifier) = await PasskeyAtAuthorizeAsync(authenticator);
        using (browser)
        using (callback)
        {
            Assert.Equal(HttpStatusCode.SeeOther, callback.StatusCode);
            JsonElement id = await IdTokenAsync(browser, callback, verifier);
            Assert.Equal(["hwk", "user", "mfa"], Amr(id));
            Assert.Equal("phr", id.GetProperty("acr").GetString());
        }

        stored = await StoredAsync(authenticator);
        Assert.Equal(1u, stored.SignCount);
        Assert.NotNull(stored.LastUsedAt);
        Assert.Contains(await AuditAsync(Latchkey.Audit.AuditEvents.FactorUsed), e => e.Detail == "passkey \"Laptop\"" && e.Subject == "alice");
    }

    [Fact]
    public async Task SyncedPasskey_SaysSwk_AndIsListedAsSynced()
    {
        using var authenticator = new SoftwareAuthenticator(backupEligible: true, backedUp: true);
        using var account = new BrowserFlow(_server);
        string added = await AddPasskeyAsync(account, authenticator, name: "Phone");
        Assert.Contains("<strong>Phone</strong> (synced)", added);

        (BrowserFlow browser, HttpResponseMessage callback, string verifier) = await PasskeyAtAuthorizeAsync(authenticator);
        using (browser)
        using (callback)
            Assert.Equal(["swk", "user", "mfa"], Amr(await IdTokenAsync(browser, callback, verifier)));
    }

    [Fact]
    public async Task ReplayedAnswer_Refused_NoSession()
    {
        using SoftwareAuthenticator authenticator = await AlicesPasskeyAsync();

        (BrowserFlow browser, HttpResponseMessage page, _) = await LoginPageAsync();
        using (browser)
        using (page)
        {
            string answer = authenticator.Get(await OptionsOf(page), Origin);
            using HttpResponseMessage first = await PostPasskeyAsync(browser, page, answer);
            Assert.Equal(HttpStatusCode.SeeOther, first.StatusCode);

            // The same answer again, from another browser (an attacker who captured the request): its challenge was taken.
            using var attacker = new BrowserFlow(_server);
            (_, string challenge) = BrowserFlow.Pkce();
            using HttpResponseMessage attackerPage = await attacker.GetAsync(BrowserFlow.AuthorizeUrl("webapp", Redirect, challenge));
            (_, Dictionary<string, string> fields) = BrowserFlow.Form(await attackerPage.Content.ReadAsStringAsync());
            (_, Dictionary<string, string> captured) = BrowserFlow.Form(await page.Content.ReadAsStringAsync());
            fields["ceremony"] = captured["ceremony"];
            fields["credential"] = answer;
            using HttpResponseMessage replayed = await attacker.Http.PostAsync("/authorize/passkey", new FormUrlEncodedContent(fields));
            Assert.Equal(HttpStatusCode.OK, replayed.StatusCode);
            Assert.Contains("has expired or was used already", await ErrorOf(replayed));
            Assert.Null(attacker.SessionCookie);

            // And with a new ceremony of its own: the answer signed another challenge.
            using HttpResponseMessage withNew = await PostPasskeyAsync(attacker, attackerPage, answer);
            Assert.Contains("Authenticator response challenge does not match", await ErrorOf(withNew));
            Assert.Null(attacker.SessionCookie);
        }

        Assert.Equal(1u, (await StoredAsync(authenticator)).SignCount);
        Assert.Equal(2, (await AuditAsync(Latchkey.Audit.AuditEvents.FactorFailed)).Count);
    }

    [Theory]
    [InlineData("http://evil.localhost", null, "origin")]
    [InlineData(Origin, "evil.localhost", "RPID hash does not match")]
    public async Task AnswerForAnotherOriginOrRelyingParty_Refused(string origin, string? rpId, string why)
    {
        using SoftwareAuthenticator authenticator = await AlicesPasskeyAsync();

        (BrowserFlow browser, HttpResponseMessage after, _) = await PasskeyAtAuthorizeAsync(authenticator, origin, rpId: rpId);
        using (browser)
        using (after)
        {
            Assert.Equal(HttpStatusCode.OK, after.StatusCode);
            string html = await after.Content.ReadAsStringAsync();
            Assert.Contains("The passkey could not be checked", html);
            Assert.Contains(why, html);
            Assert.Null(browser.SessionCookie);
        }

        Assert.Equal(0u, (await StoredAsync(authenticator)).SignCount);
        Assert.Contains(await AuditAsync(Latchkey.Audit.AuditEvents.FactorFailed), e => e.Subject == "alice" && e.Detail!.Contains(why, StringComparison.Ordinal));
    }

    [Fact]
    public async Task CounterWentBack_Refused_AsAPossibleCopy()
    {
        using SoftwareAuthenticator authenticator = await AlicesPasskeyAsync();
        for (int i = 0; i < 3; i++)
        {
            (BrowserFlow ok, HttpResponseMessage signedIn, _) = await PasskeyAtAuthorizeAsync(authenticator);
            using (ok)
            using (signedIn)
                Assert.Equal(HttpStatusCode.SeeOther, signedIn.StatusCode);
        }

        Assert.Equal(3u, (await StoredAsync(authenticator)).SignCount);
        authenticator.SignCount = 1; // a copy of the key, made when the counter was 1, reports 2
        (BrowserFlow browser, HttpResponseMessage after, _) = await PasskeyAtAuthorizeAsync(authenticator);
        using (browser)
        using (after)
        {
            Assert.Contains("SignCount must be greater than the current SignatureCounter", await ErrorOf(after));
            Assert.Null(browser.SessionCookie);
        }

        // A counter back at zero (an authenticator that keeps none reports 0, but this one counted to 3 before).
        authenticator.SignCount = uint.MaxValue;
        (BrowserFlow zero, HttpResponseMessage afterZero, _) = await PasskeyAtAuthorizeAsync(authenticator);
        using (zero)
        using (afterZero)
        {
            Assert.Contains("SignCount must be greater than the current SignatureCounter", await ErrorOf(afterZero));
            Assert.Null(zero.SessionCookie);
        }

        Assert.Equal(3u, (await StoredAsync(authenticator)).SignCount);
        Assert.Contains(await AuditAsync(Latchkey.Audit.AuditEvents.FactorFailed), e => e.Detail == "passkey: passkey \"Laptop\": SignCount must be greater than the current SignatureCounter");
    }

    [Fact]
    public async Task WithoutUserVerification_Refused()
    {
        using SoftwareAuthenticator authenticator = await AlicesPasskeyAsync();

        (BrowserFlow browser, HttpResponseMessage after, _) = await PasskeyAtAuthorizeAsync(authenticator, userVerified: false);
        using (browser)
        using (after)
        {
            Assert.Contains("User Verified flag not set", await ErrorOf(after));
            Assert.Null(browser.SessionCookie);
        }
    }

    [Fact]
    public async Task AnotherUsersPasskey_RefusedAsTheirsAndAsASecondFactor()
    {
        using var alices = new SoftwareAuthenticator();
        using var bobs = new SoftwareAuthenticator();
        using (var a = new BrowserFlow(_server))
            await AddPasskeyAsync(a, alices);
        using (var b = new BrowserFlow(_server))
            await AddPasskeyAsync(b, bobs, "bob", "Bobs key");

        // Bob's passkey, claiming to be Alice's (her user handle): the handle is not the passkey's owner.
        bobs.UserHandle = alices.UserHandle;
        (BrowserFlow browser, HttpResponseMessage after, _) = await PasskeyAtAuthorizeAsync(bobs);
        using (browser)
        using (after)
        {
            Assert.Contains("User is not owner of the public key", await ErrorOf(after));
            Assert.Null(browser.SessionCookie);
        }

        // Alice's password, then Bob's passkey as her second factor.
        (BrowserFlow second, HttpResponseMessage page, _) = await LoginPageAsync();
        using (second)
        using (page)
        {
            using HttpResponseMessage afterPassword = await second.LoginAsync(page, "alice", Password);
            string options = await OptionsOf(afterPassword);
            Assert.Contains(alices.CredentialIdBase64Url, options); // Alice's passkeys only are asked for
            using HttpResponseMessage refused = await PostPasskeyAsync(second, afterPassword, bobs.Get(options, Origin));
            string html = await refused.Content.ReadAsStringAsync();
            Assert.Contains("This passkey belongs to another account.", html);
            Assert.Null(second.SessionCookie);
        }

        Assert.Contains(await AuditAsync(Latchkey.Audit.AuditEvents.FactorFailed), e => e.Subject == "alice" && e.Detail!.Contains("another account (bob)"));
    }

    [Fact]
    public async Task AsTheSecondFactor_AfterThePassword_PickedOverTheCode()
    {
        using SoftwareAuthenticator authenticator = await AlicesPasskeyAsync();

        (BrowserFlow browser, HttpResponseMessage page, string verifier) = await LoginPageAsync();
        using (browser)
        using (page)
        {
            using HttpResponseMessage afterPassword = await browser.LoginAsync(page, "alice", Password);
            string html = await afterPassword.Content.ReadAsStringAsync();
            Assert.Contains("Use a passkey", html);
            Assert.Contains("Use a recovery code", html);
            Assert.DoesNotContain("Code from your authenticator app", html); // she has no authenticator app
            Assert.Null(browser.SessionCookie);

            using HttpResponseMessage callback = await PostPasskeyAsync(browser, afterPassword, authenticator.Get(await OptionsOf(afterPassword), Origin));
            Assert.Equal(HttpStatusCode.SeeOther, callback.StatusCode);
            JsonElement id = await IdTokenAsync(browser, callback, verifier);
            Assert.Equal(["pwd", "hwk", "user", "mfa"], Amr(id));
            Assert.Equal("phr", id.GetProperty("acr").GetString());
        }
    }

    [Fact]
    public async Task StepUpToPhr_FromATwoFactorCodeSession_AsksForThePasskeyOnly()
    {
        using var authenticator = new SoftwareAuthenticator();
        using var account = new BrowserFlow(_server);
        string added = await AddPasskeyAsync(account, authenticator);
        string recovery = RecoveryCode().Match(added).Groups[1].Value;

        // Password and a recovery code: two factors, not phishing-resistant.
        (BrowserFlow browser, HttpResponseMessage page, _) = await LoginPageAsync();
        using (browser)
        using (page)
        {
            using HttpResponseMessage afterPassword = await browser.LoginAsync(page, "alice", Password);
            (_, Dictionary<string, string> fields) = BrowserFlow.Form(await afterPassword.Content.ReadAsStringAsync());
            fields.Remove("credential");
            fields["code"] = recovery;
            using HttpResponseMessage signedIn = await browser.Http.PostAsync("/authorize/second-factor", new FormUrlEncodedContent(fields));
            Assert.Equal(HttpStatusCode.SeeOther, signedIn.StatusCode);

            (string verifier, string challenge) = BrowserFlow.Pkce();
            using HttpResponseMessage stepUp = await browser.GetAsync(BrowserFlow.AuthorizeUrl("webapp", Redirect, challenge,
                new Dictionary<string, string?> { ["acr_values"] = "phr" }));
            string html = await stepUp.Content.ReadAsStringAsync();
            Assert.Contains("<h1>Use your passkey</h1>", html);
            Assert.DoesNotContain("Use a recovery code", html);
            using HttpResponseMessage callback = await PostPasskeyAsync(browser, stepUp, authenticator.Get(await OptionsOf(stepUp), Origin));
            JsonElement id = await IdTokenAsync(browser, callback, verifier);
            Assert.Equal(["pwd", "otp", "hwk", "user", "mfa"], Amr(id));
            Assert.Equal("phr", id.GetProperty("acr").GetString());
        }

        Assert.Contains(await AuditAsync(Latchkey.Audit.AuditEvents.StepUpRequired), e => e.Outcome == Latchkey.Audit.AuditOutcomes.Success);
    }

    [Fact]
    public async Task RenameThenRemove_RemovedPasskeySignsInNoMore_OtherSessionsEnd()
    {
        using var authenticator = new SoftwareAuthenticator();
        using var account = new BrowserFlow(_server);
        await AddPasskeyAsync(account, authenticator);
        (BrowserFlow elsewhere, HttpResponseMessage signedIn, _) = await PasskeyAtAuthorizeAsync(authenticator);
        using BrowserFlow disposeElsewhere = elsewhere;
        signedIn.Dispose();
        Assert.NotNull(elsewhere.SessionCookie);

        string id = authenticator.CredentialIdBase64Url;
        using HttpResponseMessage page = await account.GetAsync("/account");
        using HttpResponseMessage renamed = await account.SubmitAsync(page,
            new Dictionary<string, string> { ["do"] = "passkey-rename", ["passkey"] = id, ["name"] = "Work laptop" });
        Assert.Contains("Remove passkey Work laptop", await renamed.Content.ReadAsStringAsync());
        using HttpResponseMessage blank = await account.SubmitAsync(page, new Dictionary<string, string> { ["do"] = "passkey-rename", ["passkey"] = id, ["name"] = " " });
        Assert.Equal(HttpStatusCode.BadRequest, blank.StatusCode);

        // Removing needs a recent sign-in: the account page's was made more than the window ago.
        _server.Time.Advance(TimeSpan.FromMinutes(6));
        using HttpResponseMessage stale = await account.SubmitAsync(page, new Dictionary<string, string> { ["do"] = "passkey-remove", ["passkey"] = id });
        Assert.Equal(HttpStatusCode.Forbidden, stale.StatusCode);
        Assert.NotNull(await StoredAsync(authenticator));

        using var again = new BrowserFlow(_server);
        using HttpResponseMessage login = await again.GetAsync("/account");
        using HttpResponseMessage afterPassword = await again.LoginAsync(login, "alice", Password);
        Assert.Contains("Use a passkey", await afterPassword.Content.ReadAsStringAsync()); // she has a factor: the password alone is not enough
        using HttpResponseMessage landed = await PostPasskeyAsync(again, afterPassword, authenticator.Get(await OptionsOf(afterPassword), Origin));
        Assert.Equal(HttpStatusCode.SeeOther, landed.StatusCode);
        using HttpResponseMessage accountPage = await again.GetAsync("/account");
        using HttpResponseMessage removed = await again.SubmitAsync(accountPage, new Dictionary<string, string> { ["do"] = "passkey-remove", ["passkey"] = id });
        string html = await removed.Content.ReadAsStringAsync();
        Assert.Contains("The passkey Work laptop is removed, and your recovery codes no longer work.", html);
        Assert.Null(await StoredAsync(authenticator));
        Assert.Contains(await AuditAsync(Latchkey.Audit.AuditEvents.FactorRemoved), e => e.Detail == "passkey \"Work laptop\"");

        // The session the passkey made elsewhere has ended, and the passkey no longer signs in.
        using HttpResponseMessage elsewhereNow = await elsewhere.GetAsync("/account");
        Assert.Contains("to continue to <strong>your account</strong>", await elsewhereNow.Content.ReadAsStringAsync());
        _server.Time.Advance(TimeSpan.FromSeconds(1));
        (BrowserFlow browser, HttpResponseMessage after, _) = await PasskeyAtAuthorizeAsync(authenticator);
        using (browser)
        using (after)
            Assert.Contains("This passkey is not known here.", await ErrorOf(after));
    }

    [Fact]
    public async Task AddWithoutARecentSignIn_Forbidden_NothingStored()
    {
        using var authenticator = new SoftwareAuthenticator();
        using var account = new BrowserFlow(_server);
        using HttpResponseMessage page = await AccountWithPasswordAsync(account, "alice");
        string credential = authenticator.Create(await OptionsOf(page), Origin);
        _server.Time.Advance(TimeSpan.FromMinutes(6));
        using HttpResponseMessage refused = await PostPasskeyAsync(account, page, credential, new Dictionary<string, string> { ["name"] = "Laptop" });
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        string html = await refused.Content.ReadAsStringAsync();
        Assert.Contains("Sign in again first", html);
        Assert.DoesNotContain("data-passkey=\"create\"", html); // a stale session is not offered the form either
        Assert.Null(await StoredAsync(authenticator));
    }

    [Fact]
    public async Task RegistrationOfAnotherAccount_Refused()
    {
        using var authenticator = new SoftwareAuthenticator();
        using var alice = new BrowserFlow(_server);
        using HttpResponseMessage alicePage = await AccountWithPasswordAsync(alice, "alice");
        string credential = authenticator.Create(await OptionsOf(alicePage), Origin);
        (_, Dictionary<string, string> alicesForm) = BrowserFlow.Form(await alicePage.Content.ReadAsStringAsync());

        // Bob's session posts Alice's ceremony and the passkey made for it: it would be a passkey of Alice's on Bob's account.
        using var bob = new BrowserFlow(_server);
        using HttpResponseMessage bobPage = await AccountWithPasswordAsync(bob, "bob");
        using HttpResponseMessage refused = await PostPasskeyAsync(bob, bobPage, credential,
            new Dictionary<string, string> { ["name"] = "Stolen", ["ceremony"] = alicesForm["ceremony"] });
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("This passkey setup was made for another account.", await ErrorOf(refused));
        Assert.Null(await StoredAsync(authenticator));
    }

    [Fact]
    public async Task PasskeyFormWithoutItsAntiforgeryToken_Refused()
    {
        using SoftwareAuthenticator authenticator = await AlicesPasskeyAsync();
        (BrowserFlow browser, HttpResponseMessage page, _) = await LoginPageAsync();
        using (browser)
        using (page)
        {
            (_, Dictionary<string, string> fields) = BrowserFlow.Form(await page.Content.ReadAsStringAsync());
            foreach (string key in fields.Keys.Where(k => k.StartsWith("__", StringComparison.Ordinal)).ToArray())
                fields.Remove(key);
            fields["credential"] = authenticator.Get(await OptionsOf(page), Origin);
            using HttpResponseMessage refused = await browser.Http.PostAsync("/authorize/passkey", new FormUrlEncodedContent(fields));
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            Assert.Contains("This form has expired", await ErrorOf(refused));
            Assert.Null(browser.SessionCookie);
        }

        Assert.Equal(0u, (await StoredAsync(authenticator)).SignCount);
    }

    [Fact]
    public async Task MalformedAnswers_ClearMessage_Never500()
    {
        (BrowserFlow browser, HttpResponseMessage page, _) = await LoginPageAsync();
        using (browser)
        using (page)
        {
            foreach (string bad in new[] { "{", "[]", "{\"id\":\"x\",\"rawId\":\"AAAA\",\"type\":\"public-key\",\"response\":{\"authenticatorData\":\"AA\",\"clientDataJSON\":\"AA\",\"signature\":\"AA\"}}", new string('a', 20_000) })
            {
                using HttpResponseMessage refused = await PostPasskeyAsync(browser, page, bad);
                Assert.Equal(HttpStatusCode.OK, refused.StatusCode);
                string html = await refused.Content.ReadAsStringAsync();
                Assert.True(html.Contains("Your browser did not send a passkey.") || html.Contains("This passkey is not known here."), html);
            }

            Assert.Null(browser.SessionCookie);
        }
    }

    [Fact]
    public async Task RequiredSecondFactor_SetUpAsAPasskeyDuringTheSignIn_RecoveryCodesThenTheApp()
    {
        await using LatchkeyTestServer strict = await LatchkeyTestServer.StartAsync(o => o.Mfa.Require = "everyone");
        await strict.AddUserAsync("dave", Password);
        string secret = (await BrowserFlow.AddBrowserClientAsync(strict, "webapp", [Redirect]))!;
        using var authenticator = new SoftwareAuthenticator(backupEligible: true);
        using var browser = new BrowserFlow(strict);
        (string verifier, string challenge) = BrowserFlow.Pkce();
        using HttpResponseMessage page = await browser.GetAsync(BrowserFlow.AuthorizeUrl("webapp", Redirect, challenge));
        using HttpResponseMessage enrol = await browser.LoginAsync(page, "dave", Password);
        string html = await enrol.Content.ReadAsStringAsync();
        Assert.Contains("Set up an authenticator app", html);
        Assert.Contains("Add a passkey", html);
        Assert.Null(browser.SessionCookie);

        using HttpResponseMessage codes = await PostPasskeyAsync(browser, enrol, authenticator.Create(await OptionsOf(enrol), Origin),
            new Dictionary<string, string> { ["name"] = "Phone" });
        string shown = await codes.Content.ReadAsStringAsync();
        Assert.Equal(10, RecoveryCode().Matches(shown).Count);
        Assert.NotNull(browser.SessionCookie);
        strict.Time.Advance(TimeSpan.FromSeconds(1)); // the person reads their codes (the test clock stands still otherwise)
        // The registration proved nothing signed: the app's request, resumed, asks for the new passkey before it goes on.
        string continueUrl = WebUtility.HtmlDecode(ContinueLink().Match(shown).Groups[1].Value);
        using HttpResponseMessage stepUp = await browser.GetAsync(continueUrl);
        Assert.Contains("<h1>Use your passkey</h1>", await stepUp.Content.ReadAsStringAsync());
        using HttpResponseMessage callback = await PostPasskeyAsync(browser, stepUp, authenticator.Get(await OptionsOf(stepUp), Origin));
        JsonElement tokens = await HttpAssert.OkJsonAsync(
            await browser.ExchangeAsync("webapp", BrowserFlow.Callback(callback, Redirect)["code"], Redirect, verifier, secret));
        Assert.Equal(["pwd", "swk", "user", "mfa"], Amr(HttpAssert.Part(tokens.GetProperty("id_token").GetString()!, 1)));
        Assert.Equal("Phone", Assert.Single(await strict.Services.GetRequiredService<ISecondFactorStore>().ListPasskeysAsync(
            (await strict.Services.GetRequiredService<UserAccounts>().FindAsync("dave", CancellationToken.None))!.Id, CancellationToken.None)).Name);
    }

    [Fact]
    public async Task PasswordThenTheEnrolForm_OfAUserWithAPasskey_AsksForThePasskey_SetsUpNoApp()
    {
        using SoftwareAuthenticator authenticator = await AlicesPasskeyAsync();
        (BrowserFlow browser, HttpResponseMessage page, _) = await LoginPageAsync();
        using (browser)
        using (page)
        {
            // The password, then the pending sign-in posted to the form that sets up a first factor.
            using HttpResponseMessage afterPassword = await browser.LoginAsync(page, "alice", Password);
            (_, Dictionary<string, string> fields) = BrowserFlow.Form(await afterPassword.Content.ReadAsStringAsync());
            fields.Remove("credential");
            fields["code"] = "000000";
            using HttpResponseMessage enrol = await browser.Http.PostAsync("/authorize/enrol", new FormUrlEncodedContent(fields));
            string html = await enrol.Content.ReadAsStringAsync();
            Assert.Contains("<h1>Use your passkey</h1>", html);
            Assert.DoesNotContain("totp-secret", html);

            // And a passkey answer offered there (any: it is not looked at).
            fields.Remove("code");
            fields["credential"] = "{}";
            using HttpResponseMessage withPasskey = await browser.Http.PostAsync("/authorize/enrol", new FormUrlEncodedContent(fields));
            Assert.Contains("<h1>Use your passkey</h1>", await withPasskey.Content.ReadAsStringAsync());
            Assert.Null(browser.SessionCookie);
        }

        Assert.Equal(0L, await _server.ScalarAsync("SELECT COUNT(*) FROM totp_factors"));
        Assert.Equal(1L, await _server.ScalarAsync("SELECT COUNT(*) FROM passkeys"));
    }

    [Fact]
    public async Task CeremonyOfAnotherKindOrUserOrTooOld_Refused()
    {
        using SoftwareAuthenticator alices = await AlicesPasskeyAsync();
        using var bobs = new SoftwareAuthenticator();
        using (var b = new BrowserFlow(_server))
            await AddPasskeyAsync(b, bobs, "bob", "Bobs key");

        // A sign-in ceremony (any passkey) posted as Bob's second factor: it was made for no user.
        (BrowserFlow anyone, HttpResponseMessage loginPage, _) = await LoginPageAsync();
        (_, Dictionary<string, string> signInForm) = BrowserFlow.Form(await loginPage.Content.ReadAsStringAsync());
        string signInOptions = await OptionsOf(loginPage);
        (BrowserFlow bob, HttpResponseMessage bobsPage, _) = await LoginPageAsync();
        using (anyone)
        using (bob)
        {
            using HttpResponseMessage bobsSecond = await bob.LoginAsync(bobsPage, "bob", Password);
            using HttpResponseMessage refused = await PostPasskeyAsync(bob, bobsSecond, bobs.Get(signInOptions, Origin),
                new Dictionary<string, string> { ["ceremony"] = signInForm["ceremony"] });
            Assert.Contains("This passkey sign-in belongs to another one.", await ErrorOf(refused));
            Assert.Null(bob.SessionCookie);
        }

        // Alice's second-factor ceremony, posted as a sign-in with a passkey alone.
        (BrowserFlow alice, HttpResponseMessage alicesPage, _) = await LoginPageAsync();
        using (alice)
        using (alicesPage)
        {
            using HttpResponseMessage alicesSecond = await alice.LoginAsync(alicesPage, "alice", Password);
            (_, Dictionary<string, string> secondForm) = BrowserFlow.Form(await alicesSecond.Content.ReadAsStringAsync());
            (BrowserFlow other, HttpResponseMessage otherPage, _) = await LoginPageAsync();
            using (other)
            using (otherPage)
            {
                using HttpResponseMessage refused = await PostPasskeyAsync(other, otherPage, alices.Get(await OptionsOf(alicesSecond), Origin),
                    new Dictionary<string, string> { ["ceremony"] = secondForm["ceremony"] });
                Assert.Contains("This passkey sign-in belongs to another one.", await ErrorOf(refused));
                Assert.Null(other.SessionCookie);
            }
        }

        // A login page left open past the ceremony's 5 minutes.
        (BrowserFlow late, HttpResponseMessage latePage, _) = await LoginPageAsync();
        using (late)
        using (latePage)
        {
            string answer = alices.Get(await OptionsOf(latePage), Origin);
            _server.Time.Advance(TimeSpan.FromMinutes(5) + TimeSpan.FromMilliseconds(1));
            using HttpResponseMessage refused = await PostPasskeyAsync(late, latePage, answer);
            Assert.Contains("This passkey sign-in has expired or was used already.", await ErrorOf(refused));
            Assert.Null(late.SessionCookie);
        }
    }

    [Fact]
    public async Task BackupEligibilityChanged_Refused()
    {
        using SoftwareAuthenticator authenticator = await AlicesPasskeyAsync();
        authenticator.SetBackupFlags(backupEligible: true, backedUp: true);
        (BrowserFlow browser, HttpResponseMessage after, _) = await PasskeyAtAuthorizeAsync(authenticator);
        using (browser)
        using (after)
        {
            Assert.Contains("The passkey could not be checked.", await ErrorOf(after));
            Assert.Null(browser.SessionCookie);
        }

        Assert.Contains(await AuditAsync(Latchkey.Audit.AuditEvents.FactorFailed), e => e.Detail == "passkey: passkey \"Laptop\": backup eligibility changed");
    }

    [Fact]
    public async Task RegistrationWithoutUserVerification_Refused()
    {
        using var authenticator = new SoftwareAuthenticator();
        using var account = new BrowserFlow(_server);
        using HttpResponseMessage page = await AccountWithPasswordAsync(account, "alice");
        using HttpResponseMessage refused = await PostPasskeyAsync(account, page, authenticator.Create(await OptionsOf(page), Origin, userVerified: false),
            new Dictionary<string, string> { ["name"] = "Laptop" });
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("User Verified flag not set", await ErrorOf(refused));
        Assert.Null(await StoredAsync(authenticator));
    }

    [Fact]
    public async Task AdminReset_RemovesPasskeys()
    {
        using SoftwareAuthenticator authenticator = await AlicesPasskeyAsync();
        AccountResult reset = await _server.Services.GetRequiredService<UserAccounts>().ResetSecondFactorsAsync("alice", "admin", CancellationToken.None);
        Assert.True(reset.Succeeded);
        Assert.Null(await StoredAsync(authenticator));
        _server.Time.Advance(TimeSpan.FromSeconds(1));
        (BrowserFlow browser, HttpResponseMessage after, _) = await PasskeyAtAuthorizeAsync(authenticator);
        using (browser)
        using (after)
            Assert.Contains("This passkey is not known here.", await ErrorOf(after));
    }

    [GeneratedRegex("<form method=\"post\" action=\"(?<action>[^\"]+)\" data-passkey=\"(?<kind>get|create)\"(?<attributes>[^>]*)>")]
    private static partial Regex PasskeyForm();

    [GeneratedRegex("<p class=\"error\" role=\"alert\"[^>]*>([^<]*)</p>")]
    private static partial Regex ErrorParagraph();

    [GeneratedRegex("href=\"(/authorize\\?[^\"]+)\"")]
    private static partial Regex ContinueLink();

    [GeneratedRegex("<li>([0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4})</li>")]
    private static partial Regex RecoveryCode();
}
