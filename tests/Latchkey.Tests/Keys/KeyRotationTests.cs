using System.Net;
using System.Text.Json;
using Latchkey.Keys;
using Latchkey.Storage;
using Latchkey.Tests.Support;

namespace Latchkey.Tests.Keys;

/// <summary>
/// Key rotation on a fake clock, both sides of each moment: a new key is published before it signs, and an old key
/// stays published until its last token has expired.
/// </summary>
public sealed class KeyRotationTests : IAsyncLifetime
{
    private const string Password = "correct horse battery";
    private LatchkeyTestServer _server = null!;

    private KeyRotation Rotation => _server.Services.GetRequiredService<KeyRotation>();
    private SigningKeyRing Ring => _server.Services.GetRequiredService<SigningKeyRing>();
    private TimeSpan Lead => Rotation.PublicationLead;

    public async ValueTask InitializeAsync()
    {
        _server = await LatchkeyTestServer.StartAsync();
        await _server.AddUserAsync("alice", Password);
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    /// <summary>The access-token keys in the JWKS (it also publishes the id-token key, which these tests leave alone).</summary>
    private async Task<string[]> JwksKidsAsync() => await JwksKidsAsync(SigningKeyPurposes.AccessToken);

    private async Task<string[]> JwksKidsAsync(string purpose)
    {
        HashSet<string> ofPurpose = (await Rotation.ListAsync(CancellationToken.None)).Where(k => k.Purpose == purpose).Select(k => k.KeyId).ToHashSet();
        using HttpResponseMessage response = await _server.Client.GetAsync("/.well-known/jwks.json");
        return (await HttpAssert.OkJsonAsync(response)).GetProperty("keys").EnumerateArray().Select(k => k.GetProperty("kid").GetString()!)
            .Where(ofPurpose.Contains).ToArray();
    }

    private async Task<string> SigningKidAsync() => HttpAssert.Part(await _server.GetAccessTokenAsync("alice", Password), 0).GetProperty("kid").GetString()!;

    [Fact]
    public void Defaults_PublicationLeadCoversRefreshAndJwksCache()
    {
        var options = new KeyOptions();
        Assert.Equal(TimeSpan.FromSeconds(30), options.RefreshInterval);
        Assert.Equal(TimeSpan.FromMinutes(5), options.JwksCacheLifetime);
        Assert.Equal(options.RefreshInterval + options.JwksCacheLifetime, Rotation.PublicationLead);
    }

    [Fact]
    public async Task Jwks_MaxAge_IsTheJwksCacheLifetime()
    {
        using HttpResponseMessage response = await _server.Client.GetAsync("/.well-known/jwks.json");

        Assert.Equal(TimeSpan.FromMinutes(5), response.Headers.CacheControl?.MaxAge);
    }

    [Fact]
    public async Task Rotate_NewKey_IsPublishedAtOnceButSignsOnlyAfterTheLead()
    {
        string old = await SigningKidAsync();

        SigningKeyInfo added = await Rotation.RotateAsync(null, "test", CancellationToken.None);
        await Ring.RefreshAsync(CancellationToken.None);

        Assert.Equal([old, added.KeyId], await JwksKidsAsync());
        Assert.Equal(old, await SigningKidAsync());
        _server.Time.Advance(Lead - TimeSpan.FromSeconds(1));
        Assert.Equal(old, await SigningKidAsync());
        _server.Time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(added.KeyId, await SigningKidAsync());
    }

    [Fact]
    public async Task Rotate_OldKey_StaysPublishedUntilItsLastTokenHasExpired()
    {
        string old = await SigningKidAsync();
        await Rotation.RotateAsync(null, "test", CancellationToken.None);
        _server.Time.Advance(Lead - TimeSpan.FromSeconds(1));
        string lastOldToken = await _server.GetAccessTokenAsync("alice", Password); // signed a second before the switch
        _server.Time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(HttpStatusCode.OK, (await _server.GetWithBearerAsync("/me", lastOldToken)).StatusCode);

        // 30 min token lifetime + 30 s leeway after the switch, the old key is still published...
        _server.Time.Advance(TimeSpan.FromMinutes(30) + TimeSpan.FromSeconds(29));
        await Ring.RefreshAsync(CancellationToken.None);
        Assert.Contains(old, await JwksKidsAsync());

        // ...and then it is not.
        _server.Time.Advance(TimeSpan.FromSeconds(1));
        await Ring.RefreshAsync(CancellationToken.None);
        Assert.DoesNotContain(old, await JwksKidsAsync());
    }

    [Fact]
    public async Task Retire_OnlyKey_IsRefused()
    {
        string only = await SigningKidAsync();

        string? error = await Rotation.RetireAsync(only, "test", CancellationToken.None);

        Assert.Contains("rotate", error);
        await Ring.RefreshAsync(CancellationToken.None);
        Assert.Equal(only, await SigningKidAsync());
    }

    [Fact]
    public async Task Retire_ActiveKeyAfterRotation_StopsItSigningNowButKeepsItsTokensValid()
    {
        string old = await SigningKidAsync();
        string oldToken = await _server.GetAccessTokenAsync("alice", Password);
        SigningKeyInfo added = await Rotation.RotateAsync(null, "test", CancellationToken.None);
        _server.Time.Advance(TimeSpan.FromSeconds(10));

        Assert.Null(await Rotation.RetireAsync(old, "test", CancellationToken.None));
        await Ring.RefreshAsync(CancellationToken.None);

        // The pending key is the only one left that will sign; until it activates the ring falls back to it.
        Assert.Equal(added.KeyId, await SigningKidAsync());
        Assert.Equal(HttpStatusCode.OK, (await _server.GetWithBearerAsync("/me", oldToken)).StatusCode);
        Assert.Contains(old, await JwksKidsAsync());
    }

    [Fact]
    public async Task Retire_UnknownKid_IsAnError()
    {
        Assert.Contains("No signing key", await Rotation.RetireAsync("nope", "test", CancellationToken.None));
    }

    [Fact]
    public async Task Rotate_ToAnotherAlgorithm_SwitchesAfterTheLead()
    {
        SigningKeyInfo added = await Rotation.RotateAsync("EdDSA", "test", CancellationToken.None);
        await Ring.RefreshAsync(CancellationToken.None);
        _server.Time.Advance(Lead);

        string token = await _server.GetAccessTokenAsync("alice", Password);

        Assert.Equal("EdDSA", HttpAssert.Part(token, 0).GetProperty("alg").GetString());
        Assert.Equal(added.KeyId, HttpAssert.Part(token, 0).GetProperty("kid").GetString());
        Assert.Equal(HttpStatusCode.OK, (await _server.GetWithBearerAsync("/me", token)).StatusCode);
    }

    [Fact]
    public async Task IdTokenKey_IsRs256_BesideTheAccessTokenKey_AndRotatesOnItsOwn()
    {
        string accessKid = await SigningKidAsync();
        SigningKey idKey = Ring.IdTokenSigner;
        Assert.Equal("RS256", idKey.Algorithm);
        Assert.Equal([idKey.KeyId], await JwksKidsAsync(SigningKeyPurposes.IdToken));

        SigningKeyInfo added = await Rotation.RotateAsync(SigningKeyPurposes.IdToken, null, "test", CancellationToken.None);
        await Ring.RefreshAsync(CancellationToken.None);

        // Published at once, signing after the lead, as an access-token key does; the access-token key is not touched.
        Assert.Equal(("RS256", SigningKeyPurposes.IdToken), (added.Algorithm, added.Purpose));
        Assert.Equal([idKey.KeyId, added.KeyId], await JwksKidsAsync(SigningKeyPurposes.IdToken));
        _server.Time.Advance(Lead - TimeSpan.FromSeconds(1));
        Assert.Equal(idKey.KeyId, Ring.IdTokenSigner.KeyId);
        _server.Time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(added.KeyId, Ring.IdTokenSigner.KeyId);
        Assert.Equal(accessKid, await SigningKidAsync());
        Assert.Null((await Rotation.ListAsync(CancellationToken.None)).Single(k => k.KeyId == accessKid).StopsSigning);
    }

    [Fact]
    public async Task RotatingTheAccessTokenKey_LeavesTheIdTokenKeySigning()
    {
        string idKid = Ring.IdTokenSigner.KeyId;

        await Rotation.RotateAsync(null, "test", CancellationToken.None);
        await Ring.RefreshAsync(CancellationToken.None);
        _server.Time.Advance(Lead);

        Assert.Equal(idKid, Ring.IdTokenSigner.KeyId);
        Assert.Null((await Rotation.ListAsync(CancellationToken.None)).Single(k => k.KeyId == idKid).StopsSigning);
    }

    [Theory]
    [InlineData("ES256")]
    [InlineData("PS256")]
    [InlineData("HS256")]
    public async Task IdTokenKey_OfAnotherAlgorithm_IsRefused(string algorithm)
    {
        var e = await Assert.ThrowsAsync<ArgumentException>(() => Rotation.RotateAsync(SigningKeyPurposes.IdToken, algorithm, "test", CancellationToken.None));

        Assert.Contains("RS256 only", e.Message);
        Assert.Equal(2, (await Rotation.ListAsync(CancellationToken.None)).Count);
    }

    [Fact]
    public async Task Retire_OnlyIdTokenKey_IsRefused_ThoughAnAccessTokenKeySigns()
    {
        string only = Ring.IdTokenSigner.KeyId;

        string? error = await Rotation.RetireAsync(only, "test", CancellationToken.None);

        Assert.Contains("keys rotate --id-token", error);
    }

    [Fact]
    public async Task Revoke_TheIdTokenKey_AnRs256IdTokenKeySignsFromNow_AndTheAccessTokenKeySignsOn()
    {
        string accessKid = await SigningKidAsync();
        string revoked = Ring.IdTokenSigner.KeyId;

        (KeyRevocation? result, string? error) = await Rotation.RevokeAsync(revoked, "test", CancellationToken.None);
        await Ring.RefreshAsync(CancellationToken.None);

        Assert.Null(error);
        Assert.Equal(result!.SigningFromNow, Ring.IdTokenSigner.KeyId);
        Assert.Equal("RS256", Ring.IdTokenSigner.Algorithm);
        Assert.Equal(SigningKeyPurposes.IdToken, (await Rotation.ListAsync(CancellationToken.None)).Single(k => k.KeyId == result.SigningFromNow).Purpose);
        Assert.DoesNotContain(revoked, await JwksKidsAsync(SigningKeyPurposes.IdToken));
        Assert.Equal(accessKid, await SigningKidAsync());
    }

    [Fact]
    public async Task AnInstallWithoutAnIdTokenKey_GetsOneAtStart_SigningAtOnce()
    {
        // What a database from before id-token keys looks like: its keys all sign access tokens.
        string accessKid = await SigningKidAsync();
        string idKid = Ring.IdTokenSigner.KeyId;
        await using (System.Data.Common.DbConnection connection = await _server.Services.GetRequiredService<Latchkey.Storage.Sql.SqlDatabase>().OpenAsync(CancellationToken.None))
        {
            await using System.Data.Common.DbCommand delete = connection.CreateCommand();
            delete.CommandText = "DELETE FROM signing_keys WHERE purpose = 'id_token'";
            Assert.Equal(1, await delete.ExecuteNonQueryAsync());
        }

        await using LatchkeyTestServer restarted = await LatchkeyTestServer.StartAsync(dataDirectory: _server.DataDirectory, time: _server.Time);

        SigningKey created = restarted.Services.GetRequiredService<SigningKeyRing>().IdTokenSigner;
        Assert.NotEqual(idKid, created.KeyId);
        Assert.Equal("RS256", created.Algorithm);
        Assert.Equal(accessKid, restarted.Services.GetRequiredService<SigningKeyRing>().Current.KeyId);
    }

    [Fact]
    public async Task RunningServer_PicksUpAKeyAddedElsewhere_OnItsRefreshTick()
    {
        // Another process (the CLI, another node) adds a key straight to the store.
        await Rotation.RotateAsync(null, "test", CancellationToken.None);
        Assert.Single(await JwksKidsAsync());

        _server.Time.Advance(TimeSpan.FromSeconds(30)); // one refresh interval: the background tick runs
        await WaitUntilAsync(async () => (await JwksKidsAsync()).Length == 2);
    }

    [Fact]
    public async Task AutomaticRotation_WhenTheKeyIsOld_AddsAPrePublishedKey()
    {
        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync(o => o.Keys.RotationInterval = TimeSpan.FromHours(1));
        var rotation = server.Services.GetRequiredService<KeyRotation>();
        Assert.Equal(2, (await rotation.ListAsync(CancellationToken.None)).Count); // the access tokens' key and the id tokens'

        server.Time.Advance(TimeSpan.FromMinutes(59) + TimeSpan.FromSeconds(30));
        await Task.Delay(200); // let a tick that should do nothing run; the assertion below is the real check
        Assert.Equal(2, (await rotation.ListAsync(CancellationToken.None)).Count);

        server.Time.Advance(TimeSpan.FromSeconds(30));
        await WaitUntilAsync(async () => (await rotation.ListAsync(CancellationToken.None)).Count == 4);
        IReadOnlyList<SigningKeyInfo> added = (await rotation.ListAsync(CancellationToken.None)).Where(k => k.StopsSigning is null).ToArray();
        Assert.Equal([SigningKeyPurposes.AccessToken, SigningKeyPurposes.IdToken], added.Select(k => k.Purpose).Order());
        Assert.All(added, k => Assert.Equal(SigningKeyState.Pending, k.State));
        Assert.Equal(["ES256", "RS256"], added.OrderBy(k => k.Purpose).Select(k => k.Algorithm));
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        // The background service runs on its own thread after the fake clock moves: poll, bounded.
        for (int i = 0; i < 100; i++)
        {
            if (await condition())
                return;
            await Task.Delay(50);
        }

        Assert.Fail("The condition did not become true within 5 s.");
    }
}
