using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Latchkey.Storage;
using Latchkey.Tests.Support;
#if !LATCHKEY_POSTGRES
using Microsoft.Data.Sqlite;
#endif

namespace Latchkey.Tests.Grants;

/// <summary>grant_type=refresh_token: rotation, lifetimes, the user's current state, and client binding.</summary>
public sealed class RefreshTokenGrantTests : IAsyncLifetime
{
    private const string Password = "correct horse battery";
    private LatchkeyTestServer _server = null!;

    public async ValueTask InitializeAsync()
    {
        _server = await LatchkeyTestServer.StartAsync(o => o.Scopes = ["api", "read", "write"]);
        await _server.AddUserAsync("alice", Password, "staff");
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    [Fact]
    public async Task Password_FirstPartyClient_ReturnsAnOpaque256BitRefreshToken()
    {
        (_, string refresh) = await _server.LoginAsync("alice", Password);

        Assert.StartsWith("lk_rt_", refresh);
        Assert.Equal(32, System.Buffers.Text.Base64Url.DecodeFromChars(refresh.AsSpan("lk_rt_".Length)).Length);
        Assert.DoesNotContain('.', refresh);
    }

    [Fact]
    public async Task Refresh_ValidToken_ReturnsANewPairWithNoStore()
    {
        (string access, string refresh) = await _server.LoginAsync("alice", Password);
        _server.Time.Advance(TimeSpan.FromMinutes(5));

        using HttpResponseMessage response = await _server.RefreshAsync(refresh);

        JsonElement body = await HttpAssert.OkJsonAsync(response);
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
        Assert.Equal("Bearer", body.GetProperty("token_type").GetString());
        Assert.Equal(1800, body.GetProperty("expires_in").GetInt64());
        Assert.NotEqual(access, body.GetProperty("access_token").GetString());
        Assert.NotEqual(refresh, body.GetProperty("refresh_token").GetString());
        JsonElement claims = HttpAssert.Part(body.GetProperty("access_token").GetString()!, 1);
        Assert.Equal(HttpAssert.Part(access, 1).GetProperty("sub").GetString(), claims.GetProperty("sub").GetString());
        Assert.Equal(_server.Time.GetUtcNow().ToUnixTimeSeconds(), claims.GetProperty("iat").GetInt64());
    }

    [Fact]
    public async Task Refresh_Storage_HoldsOnlyTheHash()
    {
        (_, string refresh) = await _server.LoginAsync("alice", Password);
        (_, string next) = await OAuthRequests.PairAsync(await _server.RefreshAsync(refresh));

        string hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.ASCII.GetBytes(next)));
        Assert.Equal(1L, Convert.ToInt64(await _server.ScalarAsync("SELECT COUNT(*) FROM refresh_tokens WHERE token_hash = @h", ("h", hash))));
        foreach (string token in new[] { next, refresh })
            Assert.False(await _server.AnyValueContainsAsync(token["lk_rt_".Length..]));
#if !LATCHKEY_POSTGRES
        // Nor anywhere in the SQLite files, deleted rows and the write-ahead log included.
        SqliteConnection.ClearAllPools();
        foreach (string file in Directory.GetFiles(_server.DataDirectory, "latchkey.db*"))
        {
            byte[] bytes = await File.ReadAllBytesAsync(file);
            Assert.Equal(-1, bytes.AsSpan().IndexOf(Encoding.ASCII.GetBytes(next["lk_rt_".Length..])));
            Assert.Equal(-1, bytes.AsSpan().IndexOf(Encoding.ASCII.GetBytes(refresh["lk_rt_".Length..])));
        }
#endif
    }

    [Fact]
    public async Task Refresh_CarriesTheUsersCurrentRoles()
    {
        (_, string refresh) = await _server.LoginAsync("alice", Password);
        // Roles as stored now, changed without ending the login (an admin's change would end it: see the next test).
        await _server.Services.GetRequiredService<Latchkey.Storage.IUserStore>().UpdateAsync("alice", u => u with { Roles = ["admin"] }, null, CancellationToken.None);

        (string access, _) = await OAuthRequests.PairAsync(await _server.RefreshAsync(refresh));

        Assert.Equal(["admin"], HttpAssert.Part(access, 1).GetProperty("role").EnumerateArray().Select(r => r.GetString()));
    }

    [Fact]
    public async Task Refresh_AfterAnAdminChangedTheRoles_TheLoginHasEndedAndANewOneCarriesThem()
    {
        (string oldAccess, string refresh) = await _server.LoginAsync("alice", Password);
        _server.Time.Advance(TimeSpan.FromMilliseconds(1));
        await _server.Services.GetRequiredService<Latchkey.Accounts.UserAccounts>().ChangeRolesAsync("alice", ["admin"], ["staff"], "test", CancellationToken.None);

        await HttpAssert.OAuthErrorAsync(await _server.RefreshAsync(refresh), HttpStatusCode.BadRequest, "invalid_grant");
        Assert.Equal(HttpStatusCode.Unauthorized, (await _server.GetWithBearerAsync("/me", oldAccess)).StatusCode);
        _server.Time.Advance(TimeSpan.FromMilliseconds(1));
        (string access, _) = await _server.LoginAsync("alice", Password);
        Assert.Equal(["admin"], HttpAssert.Part(access, 1).GetProperty("role").EnumerateArray().Select(r => r.GetString()));
        Assert.Equal(HttpStatusCode.OK, (await _server.GetWithBearerAsync("/me", access)).StatusCode);
    }

    [Fact]
    public async Task Refresh_DisabledUser_InvalidGrantEvenAfterReenabling()
    {
        (_, string refresh) = await _server.LoginAsync("alice", Password);
        var accounts = _server.Services.GetRequiredService<Latchkey.Accounts.UserAccounts>();
        await accounts.SetDisabledAsync("alice", true, "test", CancellationToken.None);
        await accounts.SetDisabledAsync("alice", false, "test", CancellationToken.None);

        using HttpResponseMessage response = await _server.RefreshAsync(refresh);

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.BadRequest, "invalid_grant");
    }

    [Fact]
    public async Task Refresh_PasswordChangedSinceLogin_InvalidGrant()
    {
        (_, string refresh) = await _server.LoginAsync("alice", Password);
        _server.Time.Advance(TimeSpan.FromSeconds(1));
        await _server.Services.GetRequiredService<Latchkey.Accounts.UserAccounts>().SetPasswordAsync("alice", "a new password", "test", CancellationToken.None);

        using HttpResponseMessage response = await _server.RefreshAsync(refresh);

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.BadRequest, "invalid_grant");
        _server.Time.Advance(TimeSpan.FromMilliseconds(1)); // a login in the very millisecond of the cut-off is refused too
        (_, string fresh) = await _server.LoginAsync("alice", "a new password");
        await OAuthRequests.PairAsync(await _server.RefreshAsync(fresh));
    }

    [Fact]
    public async Task Refresh_SlidingLifetime_OneSecondBeforeWorksAtTheMomentFails()
    {
        (_, string first) = await _server.LoginAsync("alice", Password);
        (_, string second) = await _server.LoginAsync("alice", Password);

        _server.Time.Advance(TimeSpan.FromDays(14) - TimeSpan.FromSeconds(1));
        await OAuthRequests.PairAsync(await _server.RefreshAsync(first));

        _server.Time.Advance(TimeSpan.FromSeconds(1));
        using HttpResponseMessage expired = await _server.RefreshAsync(second);
        await HttpAssert.OAuthErrorAsync(expired, HttpStatusCode.BadRequest, "invalid_grant");
    }

    [Fact]
    public async Task Refresh_AbsoluteLifetime_EndsTheFamilyHoweverOftenRefreshed()
    {
        (_, string refresh) = await _server.LoginAsync("alice", Password);
        // Refresh every 13 days: the sliding lifetime never runs out, the 90-day family lifetime does.
        for (int day = 13; day < 90; day += 13)
        {
            _server.Time.Advance(TimeSpan.FromDays(13));
            (_, refresh) = await OAuthRequests.PairAsync(await _server.RefreshAsync(refresh));
        }

        // Day 78 now; the last token expires with its family on day 90, not on day 92.
        _server.Time.Advance(TimeSpan.FromDays(12) - TimeSpan.FromSeconds(1));
        (_, refresh) = await OAuthRequests.PairAsync(await _server.RefreshAsync(refresh));
        _server.Time.Advance(TimeSpan.FromSeconds(1));
        using HttpResponseMessage response = await _server.RefreshAsync(refresh);
        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.BadRequest, "invalid_grant");
    }

    [Fact]
    public async Task Refresh_NarrowerScope_IsGranted_WiderScope_IsInvalidScope()
    {
        (_, string refresh) = await _server.LoginAsync("alice", Password, scope: "read write");

        using HttpResponseMessage wider = await _server.RefreshAsync(refresh, scope: "read api");
        await HttpAssert.OAuthErrorAsync(wider, HttpStatusCode.BadRequest, "invalid_scope");

        using HttpResponseMessage narrower = await _server.RefreshAsync(refresh, scope: "read");
        JsonElement body = await HttpAssert.OkJsonAsync(narrower);
        Assert.Equal("read", body.GetProperty("scope").GetString());
    }

    [Fact]
    public async Task Refresh_NoScopeParameter_KeepsTheOriginalScope()
    {
        (_, string refresh) = await _server.LoginAsync("alice", Password, scope: "read write");

        JsonElement body = await HttpAssert.OkJsonAsync(await _server.RefreshAsync(refresh));

        Assert.Equal("read write", body.GetProperty("scope").GetString());
    }

    [Theory]
    [InlineData("")]
    [InlineData("lk_rt_")]
    [InlineData("lk_rt_tooshort")]
    [InlineData("eyJhbGciOiJFUzI1NiJ9.e30.sig")]
    [InlineData("lk_rt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")] // right shape, never issued
    public async Task Refresh_MalformedOrForeignToken_InvalidGrantOrRequestAndNothingChanges(string token)
    {
        (_, string refresh) = await _server.LoginAsync("alice", Password);

        using HttpResponseMessage response = await _server.RefreshAsync(token);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        string error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetString()!;
        Assert.Equal(token.Length == 0 ? "invalid_request" : "invalid_grant", error);
        await OAuthRequests.PairAsync(await _server.RefreshAsync(refresh));
    }

    [Fact]
    public async Task Refresh_TruncatedToken_InvalidGrantAndTheRealOneStillWorks()
    {
        (_, string refresh) = await _server.LoginAsync("alice", Password);

        using HttpResponseMessage response = await _server.RefreshAsync(refresh[..^1]);

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.BadRequest, "invalid_grant");
        await OAuthRequests.PairAsync(await _server.RefreshAsync(refresh));
    }

    [Fact]
    public async Task Refresh_TokenOfAnotherClient_InvalidGrantAndNothingChanges()
    {
        string secret = await _server.AddClientAsync("web", ["password", "refresh_token"]);
        (_, string firstParty) = await _server.LoginAsync("alice", Password);

        using HttpResponseMessage stolen = await _server.RefreshAsync(firstParty, basic: ("web", secret));

        await HttpAssert.OAuthErrorAsync(stolen, HttpStatusCode.BadRequest, "invalid_grant");
        await OAuthRequests.PairAsync(await _server.RefreshAsync(firstParty));
    }

    [Fact]
    public async Task Refresh_RegisteredClient_RotatesItsOwnTokens()
    {
        string secret = await _server.AddClientAsync("web", ["password", "refresh_token"], audience: "web-api");
        var form = new Dictionary<string, string> { ["grant_type"] = "password", ["username"] = "alice", ["password"] = Password };
        (string access, string refresh) = await OAuthRequests.PairAsync(await _server.PostFormAsync("/token", form, basic: ("web", secret)));
        Assert.Equal("web", HttpAssert.Part(access, 1).GetProperty("client_id").GetString());
        Assert.Equal("web-api", HttpAssert.Part(access, 1).GetProperty("aud").GetString());

        (string next, _) = await OAuthRequests.PairAsync(await _server.RefreshAsync(refresh, basic: ("web", secret)));

        Assert.Equal("web", HttpAssert.Part(next, 1).GetProperty("client_id").GetString());
    }

    [Fact]
    public async Task Refresh_NoScopeParameter_DropsAScopeRemovedFromTheClientSinceTheLogin()
    {
        string secret = await _server.AddClientAsync("web", ["password", "refresh_token"], ["read", "write"]);
        var form = new Dictionary<string, string> { ["grant_type"] = "password", ["username"] = "alice", ["password"] = Password, ["scope"] = "read write" };
        (_, string refresh) = await OAuthRequests.PairAsync(await _server.PostFormAsync("/token", form, basic: ("web", secret)));

        await _server.Services.GetRequiredService<Latchkey.Clients.ClientAccounts>().ChangeScopesAsync("web", [], ["write"], "test", CancellationToken.None);
        using HttpResponseMessage refreshed = await _server.RefreshAsync(refresh, basic: ("web", secret));

        JsonElement body = await HttpAssert.OkJsonAsync(refreshed);
        Assert.Equal("read", body.GetProperty("scope").GetString());
        Assert.Equal("read", HttpAssert.Part(body.GetProperty("access_token").GetString()!, 1).GetProperty("scope").GetString());
        // Asked for by name, the removed scope is refused outright.
        (string _, string next) = (body.GetProperty("access_token").GetString()!, body.GetProperty("refresh_token").GetString()!);
        await HttpAssert.OAuthErrorAsync(await _server.RefreshAsync(next, basic: ("web", secret), scope: "write"), HttpStatusCode.BadRequest, "invalid_scope");
    }

    [Fact]
    public async Task Password_ClientWithoutRefreshGrant_GetsNoRefreshToken()
    {
        string secret = await _server.AddClientAsync("legacy", ["password"]);
        var form = new Dictionary<string, string> { ["grant_type"] = "password", ["username"] = "alice", ["password"] = Password };

        JsonElement body = await HttpAssert.OkJsonAsync(await _server.PostFormAsync("/token", form, basic: ("legacy", secret)));

        Assert.False(body.TryGetProperty("refresh_token", out _));
    }

    [Fact]
    public async Task SeedGetToken_GetsNoRefreshToken()
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/token");
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"alice:{Password}")));

        JsonElement body = await HttpAssert.OkJsonAsync(await _server.Client.SendAsync(request));

        Assert.False(body.TryGetProperty("refresh_token", out _));
    }
}
