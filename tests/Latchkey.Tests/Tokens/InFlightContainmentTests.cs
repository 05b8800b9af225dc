using System.Net;
using System.Text.Json;
using Latchkey.Accounts;
using Latchkey.Clients;
using Latchkey.Hosting;
using Latchkey.Storage;
using Latchkey.Storage.Sql;
using Latchkey.Tests.Support;
using Latchkey.Tokens;
using Microsoft.Extensions.Time.Testing;

namespace Latchkey.Tests.Tokens;

/// <summary>
/// Cut-offs against what is already in flight, found by reviewing the containment change as an attacker: a login whose
/// account was read before a password change or a disable, a node minting from a client record it cached before the client
/// was disabled, a node whose clock runs behind, a client that lost the admin scope. Each must not outlive the change.
/// </summary>
public sealed class InFlightContainmentTests
{
    private const string Password = "correct horse battery";
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Holds a login between reading the account and checking its password (the hash, its queue), until released.</summary>
    private sealed class HeldUserStore(SqlDatabase database) : IUserStore
    {
        private readonly SqlUserStore _inner = new(database);

        public TaskCompletionSource Read { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public volatile string? HoldFor;

        public async Task<UserRecord?> FindByUsernameAsync(string username, CancellationToken cancellationToken)
        {
            UserRecord? user = await _inner.FindByUsernameAsync(username, cancellationToken);
            if (HoldFor == username)
            {
                HoldFor = null;
                Read.SetResult();
                await Release.Task;
            }

            return user;
        }

        public Task<UserRecord?> FindByIdAsync(string id, CancellationToken cancellationToken) => _inner.FindByIdAsync(id, cancellationToken);
        public Task<IReadOnlyList<UserRecord>> ListAsync(CancellationToken cancellationToken) => _inner.ListAsync(cancellationToken);
        public Task<bool> TryAddAsync(UserRecord user, CancellationToken cancellationToken) => _inner.TryAddAsync(user, cancellationToken);
        public Task<UserUpdate?> UpdateAsync(string username, Func<UserRecord, UserRecord> change, Revocation? cutOff, CancellationToken cancellationToken) =>
            _inner.UpdateAsync(username, change, cutOff, cancellationToken);
        public Task ExtendCutOffAsync(Revocation cutOff, CancellationToken cancellationToken) => _inner.ExtendCutOffAsync(cutOff, cancellationToken);
        public Task<bool> TryUpgradePasswordHashAsync(string username, string expectedHash, string newHash, CancellationToken cancellationToken) =>
            _inner.TryUpgradePasswordHashAsync(username, expectedHash, newHash, cancellationToken);
    }

    private static Task<LatchkeyTestServer> StartHeldAsync() =>
        LatchkeyTestServer.StartAsync(services: s => s.AddSingleton<IUserStore>(sp => sp.GetRequiredService<HeldUserStore>())
            .AddSingleton(sp => new HeldUserStore(sp.GetRequiredService<SqlDatabase>())));

    public static TheoryData<string> AccountChanges => ["password", "disable", "logout"];

    [Theory]
    [MemberData(nameof(AccountChanges))]
    public async Task LoginInFlight_AccountChangedWhileItsPasswordIsChecked_IsRefusedAndLeavesNoTokenOrLogin(string change)
    {
        await using LatchkeyTestServer server = await StartHeldAsync();
        await server.AddUserAsync("victim", Password, "admin");
        var held = server.Services.GetRequiredService<HeldUserStore>();
        held.HoldFor = "victim";

        // The attacker's login with the old password reads the account, then waits for its hash...
        Task<HttpResponseMessage> login = server.PostTokenAsync("victim", Password, "latchkey:admin");
        await held.Read.Task.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        // ...while the owner changes the password, or an admin disables or logs the account out.
        server.Time.Advance(TimeSpan.FromMilliseconds(5));
        var accounts = server.Services.GetRequiredService<UserAccounts>();
        AccountResult result = change switch
        {
            "password" => await accounts.SetPasswordAsync("victim", "a brand new password", "victim", Ct),
            "disable" => await accounts.SetDisabledAsync("victim", true, "admin", Ct),
            _ => await accounts.LogoutAsync("victim", "admin", Ct),
        };
        Assert.True(result.Succeeded);
        server.Time.Advance(TimeSpan.FromMilliseconds(5));
        held.Release.SetResult();

        using HttpResponseMessage response = await login;

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.BadRequest, "invalid_grant");
        Assert.Contains(server.Logs, l => l.Contains("account changed while the password was checked", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Token_WhoseAuthorityPredatesACutOff_IsRefusedEvenIfMintedAfterIt()
    {
        // What backs the check above: a token carries (in its jti) when what it rests on was read, not when it was signed.
        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync();
        await server.AddUserAsync("alice", Password);
        UserRecord alice = (await server.Services.GetRequiredService<IUserStore>().FindByUsernameAsync("alice", Ct))!;
        DateTimeOffset loginBegan = server.Time.GetUtcNow();
        server.Time.Advance(TimeSpan.FromMilliseconds(5));
        await server.Services.GetRequiredService<UserAccounts>().LogoutAsync("alice", "admin", Ct);
        server.Time.Advance(TimeSpan.FromMilliseconds(5));

        var issuer = server.Services.GetRequiredService<AccessTokenIssuer>();
        string late = issuer.Issue(new AccessTokenSubject(alice.Id, "alice", [], null, "default", AuthorizedAt: loginBegan)).Token;
        string fresh = issuer.Issue(new AccessTokenSubject(alice.Id, "alice", [], null, "default")).Token;

        Assert.Equal(HttpStatusCode.Unauthorized, (await server.GetWithBearerAsync("/me", late)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await server.GetWithBearerAsync("/me", fresh)).StatusCode);
    }

    [Fact]
    public async Task ClientDisabledOnOneNode_AnotherNodeThatCachedIt_ItsTokensAreRefusedAndItStopsMintingAfterItsSync()
    {
        await using LatchkeyTestServer a = await LatchkeyTestServer.StartAsync();
        string secret = await a.AddClientAsync("leaky", ["client_credentials"]);
        await using LatchkeyTestServer b = await LatchkeyTestServer.StartAsync(dataDirectory: a.DataDirectory, time: a.Time);
        var form = new Dictionary<string, string> { ["grant_type"] = "client_credentials" };
        using (HttpResponseMessage warm = await b.PostFormAsync("/token", form, ("leaky", secret)))
            await HttpAssert.OkJsonAsync(warm); // B now holds the client's record in its cache

        a.Time.Advance(TimeSpan.FromMilliseconds(5));
        Assert.True((await a.Services.GetRequiredService<ClientAccounts>().SetDisabledAsync("leaky", true, "admin", Ct)).Succeeded);
        a.Time.Advance(TimeSpan.FromMilliseconds(5));
        // Before B has heard of it, B still mints from its cache (for at most ClientCacheLifetime)...
        using HttpResponseMessage fromCache = await b.PostFormAsync("/token", form, ("leaky", secret));
        string token = (await HttpAssert.OkJsonAsync(fromCache)).GetProperty("access_token").GetString()!;

        await b.Services.GetRequiredService<Revocations>().SyncAsync(Ct);

        // ...but that token rests on the record read before the disable: refused everywhere; and B now reads the record again.
        Assert.Equal(HttpStatusCode.Unauthorized, (await b.GetWithBearerAsync("/me", token)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await a.GetWithBearerAsync("/me", token)).StatusCode);
        using HttpResponseMessage afterSync = await b.PostFormAsync("/token", form, ("leaky", secret));
        await HttpAssert.OAuthErrorAsync(afterSync, HttpStatusCode.Unauthorized, "invalid_client");
    }

    [Fact]
    public async Task LoginRevokedOnANodeWhoseClockIsTwoMinutesBehind_TheOtherNodeLearnsItAtItsNextSync()
    {
        await using LatchkeyTestServer b = await LatchkeyTestServer.StartAsync();
        await b.AddUserAsync("alice", Password);
        var behind = new FakeTimeProvider(b.Time.GetUtcNow() - TimeSpan.FromMinutes(2));
        await using LatchkeyTestServer a = await LatchkeyTestServer.StartAsync(dataDirectory: b.DataDirectory, time: behind);
        (string access, string refresh) = await b.LoginAsync("alice", Password);
        await b.Services.GetRequiredService<Revocations>().SyncAsync(Ct);

        using (HttpResponseMessage revoke = await a.PostFormAsync("/revoke", new Dictionary<string, string> { ["token"] = refresh }))
            Assert.Equal(HttpStatusCode.OK, revoke.StatusCode);
        await b.Services.GetRequiredService<Revocations>().SyncAsync(Ct);

        Assert.Equal(HttpStatusCode.Unauthorized, (await b.GetWithBearerAsync("/me", access)).StatusCode);
    }

    [Fact]
    public async Task AdminScopeTakenFromTheClient_ItsAdminTokensNoLongerOpenAdmin()
    {
        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync();
        await server.AddUserAsync("root", Password, "admin");
        string secret = await server.AddClientAsync("dashboard", ["password"], scopes: ["latchkey:admin"]);
        using HttpResponseMessage issued = await server.PostFormAsync("/token", new Dictionary<string, string>
        { ["grant_type"] = "password", ["username"] = "root", ["password"] = Password, ["scope"] = "latchkey:admin" }, ("dashboard", secret));
        string token = (await HttpAssert.OkJsonAsync(issued)).GetProperty("access_token").GetString()!;
        Assert.Equal(HttpStatusCode.OK, (await server.GetWithBearerAsync("/admin/users", token)).StatusCode);

        Assert.True((await server.Services.GetRequiredService<ClientAccounts>().ChangeScopesAsync("dashboard", [], ["latchkey:admin"], "admin", Ct)).Succeeded);

        using HttpResponseMessage response = await server.GetWithBearerAsync("/admin/users", token);
        Assert.Contains("may no longer request latchkey:admin", await AdminHttp.ProblemAsync(response, HttpStatusCode.Forbidden));
    }

    [Fact]
    public async Task UsernameLock_ReportedEndedWhileTheCountsStillLock_StartsAgainAtTheNextRefusal()
    {
        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync(o =>
        {
            o.LoginThrottle.UsernameFailureThreshold = 3;
            o.LoginThrottle.FailureThreshold = 100;
            o.LoginThrottle.AddressFailureThreshold = 1000;
        });
        await server.AddUserAsync("alice", Password);
        using HttpClient home = server.CreateClient("127.0.0.2");
        using (HttpResponseMessage ok = await server.PostTokenAsync("alice", Password, client: home))
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        DateTimeOffset t0 = server.Time.GetUtcNow();
        foreach (string address in new[] { "127.0.0.3", "127.0.0.4", "127.0.0.5" })
        {
            using HttpClient guesser = server.CreateClient(address);
            using HttpResponseMessage guess = await server.PostTokenAsync("alice", "a mistyped guess", client: guesser);
            Assert.Equal(HttpStatusCode.BadRequest, guess.StatusCode);
            server.Time.Advance(TimeSpan.FromMinutes(1));
        }

        using (HttpResponseMessage typo = await server.PostTokenAsync("alice", "a mistyped guess", client: home))
            Assert.Equal(HttpStatusCode.BadRequest, typo.StatusCode); // the owner mistypes at home: one more failure in the window
        server.Time.Advance(t0 + TimeSpan.FromMinutes(15) + TimeSpan.FromSeconds(1) - server.Time.GetUtcNow());
        await server.Services.GetRequiredService<Housekeeping>().RunOnceAsync(Ct);

        using HttpClient elsewhere = server.CreateClient("127.0.0.6");
        using HttpResponseMessage still = await server.PostTokenAsync("alice", Password, client: elsewhere);

        Assert.Equal(HttpStatusCode.TooManyRequests, still.StatusCode);
        IReadOnlyList<AuditEvent> audit = await server.Services.GetRequiredService<IAuditLog>().ReadAsync(t0, Ct);
        Assert.Equal(2, audit.Count(e => e.Type == Latchkey.Audit.AuditEvents.LoginLocked)); // the refusal started it again
    }
}
