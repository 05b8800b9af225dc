using System.Net;
using System.Text.Json;
using Latchkey.Audit;
using Latchkey.Clients;
using Latchkey.Hosting;
using Latchkey.Keys;
using Latchkey.Storage;
using Latchkey.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Latchkey.Tests.Endpoints.Admin;

/// <summary>
/// The audit log over real HTTP: each security action leaves one event with the right fields, readable through
/// <c>GET /admin/audit</c>, and one structured log line without the password.
/// </summary>
public sealed class AuditApiTests : IAsyncLifetime
{
    private const string Password = "correct horse battery";
    private LatchkeyTestServer _server = null!;
    private string _adminToken = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _server = await LatchkeyTestServer.StartAsync(o => o.LoginThrottle.FailureThreshold = 2);
        await _server.AddUserAsync("root", Password, "admin");
        await _server.AddUserAsync("alice", Password);
        _adminToken = await _server.GetAdminTokenAsync("root", Password);
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    private Task<HttpResponseMessage> AdminAsync(HttpMethod method, string path, string? json = null) =>
        AdminHttp.SendAsync(_server.Client, method, path, _adminToken, json);

    private async Task<JsonElement[]> AuditAsync(string query = "")
    {
        using HttpResponseMessage response = await AdminAsync(HttpMethod.Get, "/admin/audit" + query);
        return (await AdminHttp.JsonAsync(response, HttpStatusCode.OK)).EnumerateArray().ToArray();
    }

    private static JsonElement Single(JsonElement[] events, string type) => Assert.Single(events, e => e.GetProperty("type").GetString() == type);

    private static string? Field(JsonElement e, string name) => e.GetProperty(name).GetString();

    [Fact]
    public async Task Login_SuccessAndFailure_RecordedWithSubjectClientAddressAndOutcome()
    {
        using (await _server.PostTokenAsync("alice", Password)) { }
        using (await _server.PostTokenAsync("alice", "wrong password!")) { }

        JsonElement[] events = await AuditAsync("?user=alice");
        JsonElement success = Single(events, AuditEvents.LoginSucceeded);
        Assert.Equal(("alice", Client.FirstPartyClientId, "127.0.0.1", "success"), (Field(success, "subject"), Field(success, "client"), Field(success, "address"), Field(success, "outcome")));
        Assert.True(DateTimeOffset.Parse(Field(success, "time")!) <= _server.Time.GetUtcNow());
        JsonElement failure = Single(events, AuditEvents.LoginFailed);
        Assert.Equal(("alice", "127.0.0.1", "failure", "wrong password"), (Field(failure, "subject"), Field(failure, "address"), Field(failure, "outcome"), Field(failure, "detail")));
        Assert.Contains(_server.Logs, l => l.Contains("[5001] Audit login_failed failure", StringComparison.Ordinal) && l.Contains("alice", StringComparison.Ordinal));
        Assert.DoesNotContain(_server.Logs, l => l.Contains("wrong password!", StringComparison.Ordinal) || l.Contains(Password, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Login_UnknownUser_RecordedUnderAHashNotTheTypedName()
    {
        using (await _server.PostTokenAsync("my-secret-passphrase", Password)) { }

        JsonElement failure = Single(await AuditAsync(), AuditEvents.LoginFailed);
        Assert.StartsWith("unknown#", Field(failure, "subject"));
        Assert.Equal("unknown user", Field(failure, "detail"));
        Assert.DoesNotContain(_server.Logs, l => l.Contains("my-secret-passphrase", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Login_UnknownUser_StoredAndAuditedUnderAKeyedHashThatADictionaryCannotReverse()
    {
        using (await _server.PostTokenAsync("my-secret-passphrase", Password)) { }

        // The old, bare form: anyone with the database could hash a dictionary of names and find this one.
        string bare = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes("latchkey-login:my-secret-passphrase")));
        string keyed = _server.Services.GetRequiredService<Latchkey.Accounts.LoginThrottle>().UserKey("my-secret-passphrase");
        Assert.NotEqual(bare, keyed);
        JsonElement failure = Single(await AuditAsync(), AuditEvents.LoginFailed);
        Assert.Equal("unknown#" + keyed[..12], Field(failure, "subject"));
        Assert.DoesNotContain(_server.Logs, l => l.Contains(bare[..12], StringComparison.Ordinal));
        // The throttle's rows hold the keyed hash, never the bare one or the name.
        await using System.Data.Common.DbConnection connection = await _server.Services.GetRequiredService<Latchkey.Storage.Sql.SqlDatabase>().OpenAsync(Ct);
        await using System.Data.Common.DbCommand command = connection.CreateCommand();
        command.CommandText = "SELECT user_key FROM login_attempts UNION SELECT user_key FROM login_streaks";
        var stored = new List<string>();
        await using (System.Data.Common.DbDataReader reader = await command.ExecuteReaderAsync(Ct))
            while (await reader.ReadAsync(Ct))
                stored.Add(reader.GetString(0));
        Assert.Equal([keyed], stored);
    }

    [Fact]
    public async Task Login_Throttled_RecordedOncePerLockNotPerRefusedAttempt()
    {
        for (int i = 0; i < 5; i++)
            using (await _server.PostTokenAsync("alice", "wrong password!")) { }

        JsonElement[] events = await AuditAsync("?user=alice");
        Assert.Equal(2, events.Count(e => Field(e, "type") == AuditEvents.LoginFailed));
        JsonElement locked = Single(events, AuditEvents.LoginLocked);
        Assert.Equal(("alice", "127.0.0.1", "locked"), (Field(locked, "subject"), Field(locked, "address"), Field(locked, "outcome")));
        Assert.DoesNotContain(events, e => Field(e, "type") == AuditEvents.LoginLockEnded);

        // Once the lock has ended, the next sweep reports it with the attempts it refused (three).
        _server.Time.Advance(TimeSpan.FromSeconds(31));
        await _server.Services.GetRequiredService<Housekeeping>().RunOnceAsync(Ct);
        JsonElement ended = Single(await AuditAsync("?user=alice"), AuditEvents.LoginLockEnded);
        Assert.Equal(("alice", "127.0.0.1", "unlocked"), (Field(ended, "subject"), Field(ended, "address"), Field(ended, "outcome")));
        Assert.EndsWith("; 3 attempts refused", Field(ended, "detail"));
    }

    [Fact]
    public async Task RefreshReuse_RecordsReuseAndFamilyRevoked()
    {
        (_, string refresh) = await _server.LoginAsync("alice", Password);
        using (await _server.RefreshAsync(refresh)) { }
        _server.Time.Advance(TimeSpan.FromSeconds(11));
        using (await _server.RefreshAsync(refresh)) { }

        JsonElement[] events = await AuditAsync("?user=alice");
        JsonElement reuse = Single(events, AuditEvents.RefreshReuseDetected);
        Assert.Equal((Client.FirstPartyClientId, "127.0.0.1", "family_revoked"), (Field(reuse, "client"), Field(reuse, "address"), Field(reuse, "outcome")));
        JsonElement revoked = Single(events, AuditEvents.FamilyRevoked);
        Assert.EndsWith("reuse detected", Field(revoked, "detail"));
    }

    [Fact]
    public async Task Revoke_RefreshToken_RecordsTokenAndFamilyRevoked()
    {
        (_, string refresh) = await _server.LoginAsync("alice", Password);
        using (await _server.PostFormAsync("/revoke", new Dictionary<string, string> { ["token"] = refresh })) { }

        JsonElement[] events = await AuditAsync("?user=alice");
        JsonElement token = Single(events, AuditEvents.TokenRevoked);
        Assert.Equal((Client.FirstPartyClientId, "127.0.0.1", "success"), (Field(token, "client"), Field(token, "address"), Field(token, "outcome")));
        Assert.EndsWith("revoked by the client", Field(Single(events, AuditEvents.FamilyRevoked), "detail"));
        Assert.DoesNotContain(_server.Logs, l => l.Contains(refresh, StringComparison.Ordinal));
    }

    [Fact]
    public async Task UserChanges_ByAnAdmin_RecordedWithTheAdminsName()
    {
        (_, _) = await _server.LoginAsync("alice", Password);
        using (await AdminAsync(HttpMethod.Post, "/admin/users", """{"username": "bob", "password": "a long password", "roles": ["ops"]}""")) { }
        using (await AdminAsync(HttpMethod.Post, "/admin/users/bob/password", """{"password": "another long one"}""")) { }
        using (await AdminAsync(HttpMethod.Post, "/admin/users/bob/roles", """{"add": ["billing"]}""")) { }
        using (await AdminAsync(HttpMethod.Post, "/admin/users/alice/disable")) { }
        using (await AdminAsync(HttpMethod.Post, "/admin/users/alice/enable")) { }

        JsonElement[] events = (await AuditAsync()).Where(e => Field(e, "actor") == "root").ToArray();
        Assert.Equal(
            [(AuditEvents.UserAdded, "bob"), (AuditEvents.UserPasswordSet, "bob"), (AuditEvents.TokensCutOff, "bob"), (AuditEvents.UserRolesChanged, "bob"),
             (AuditEvents.TokensCutOff, "bob"), (AuditEvents.UserDisabled, "alice"), (AuditEvents.TokensCutOff, "alice"), (AuditEvents.UserEnabled, "alice")],
            events.Select(e => (Field(e, "type"), Field(e, "subject"))));
        Assert.All(events, e => Assert.Equal(("root", "success"), (Field(e, "actor"), Field(e, "outcome"))));
        Assert.Equal("roles: ops,billing", Field(events[3], "detail"));
        Assert.EndsWith("; 1 refresh token families revoked; 0 sign-in sessions ended: user disabled", Field(events[6], "detail"));
        Assert.DoesNotContain(_server.Logs, l => l.Contains("another long one", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ClientSecretRotated_Recorded_WithoutTheSecret()
    {
        await _server.AddClientAsync("svc", ["client_credentials"]);
        using HttpResponseMessage response = await AdminAsync(HttpMethod.Post, "/admin/clients/svc/rotate-secret");
        string secret = (await AdminHttp.JsonAsync(response, HttpStatusCode.OK)).GetProperty("client_secret").GetString()!;

        JsonElement rotated = Single(await AuditAsync(), AuditEvents.ClientSecretRotated);
        Assert.Equal(("root", "svc", "success"), (Field(rotated, "actor"), Field(rotated, "client"), Field(rotated, "outcome")));
        Assert.DoesNotContain(_server.Logs, l => l.Contains(secret, StringComparison.Ordinal));
    }

    [Fact]
    public async Task KeyRotatedAndRetired_RecordedWithTheActor()
    {
        KeyRotation rotation = _server.Services.GetRequiredService<KeyRotation>();
        SigningKeyInfo added = await rotation.RotateAsync(null, "cli", Ct);
        // Changed our mind before it signs: the old key still signs until then, so the new one may go.
        Assert.Null(await rotation.RetireAsync(added.KeyId, "cli", Ct));

        JsonElement[] events = await AuditAsync();
        JsonElement rotated = Single(events, AuditEvents.KeyRotated);
        Assert.Equal("cli", Field(rotated, "actor"));
        Assert.StartsWith($"{added.KeyId} ({added.Algorithm}) signs access tokens from", Field(rotated, "detail"));
        Assert.Equal(("cli", added.KeyId), (Field(Single(events, AuditEvents.KeyRetired), "actor"), Field(Single(events, AuditEvents.KeyRetired), "detail")));
    }

    [Fact]
    public async Task Audit_Since_OnlyNewerEvents()
    {
        using (await _server.PostTokenAsync("alice", "wrong password!")) { }
        _server.Time.Advance(TimeSpan.FromMinutes(20));
        using (await _server.PostTokenAsync("alice", Password)) { }

        Assert.Equal([AuditEvents.LoginSucceeded], (await AuditAsync("?since=10m&user=alice")).Select(e => Field(e, "type")));
        string iso = Uri.EscapeDataString(_server.Time.GetUtcNow().AddMinutes(-1).ToString("O"));
        Assert.Equal([AuditEvents.LoginSucceeded], (await AuditAsync($"?since={iso}&user=alice")).Select(e => Field(e, "type")));
        // Case-insensitive, like logins: her creation by the set-up, the failure, the success.
        Assert.Equal(3, (await AuditAsync("?user=ALICE")).Length);
    }

    [Fact]
    public async Task Audit_BadSince_400Problem()
    {
        using HttpResponseMessage response = await AdminAsync(HttpMethod.Get, "/admin/audit?since=yesterday");
        Assert.Contains("since", await AdminHttp.ProblemAsync(response, HttpStatusCode.BadRequest));
    }

    [Fact]
    public async Task Audit_NotAnAdmin_403_NoToken_401()
    {
        string alice = await _server.GetAccessTokenAsync("alice", Password);
        using HttpResponseMessage forbidden = await AdminHttp.SendAsync(_server.Client, HttpMethod.Get, "/admin/audit", alice);
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
        using HttpResponseMessage anonymous = await AdminHttp.SendAsync(_server.Client, HttpMethod.Get, "/admin/audit", null);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
    }
}
