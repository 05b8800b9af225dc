using System.Buffers.Text;
using System.Data.Common;
using System.Net;
using System.Text.Json;
using Latchkey.Keys;
using Latchkey.Storage.Sql;
using Latchkey.Tests.Support;
using Latchkey.Tokens;
using Microsoft.Extensions.DependencyInjection;

namespace Latchkey.Tests.Tokens;

/// <summary>
/// Bearer tokens verified once are remembered (VerifiedAccessTokens), so each reuse skips the signature check. What a
/// user relies on: a remembered token stops working exactly when a fresh check would refuse it, and nothing but a
/// token that passed every check is ever remembered. (The revocation case: RevocationEndpointTests, whose token is
/// used on /me before it is revoked.)
/// </summary>
public sealed class VerifiedAccessTokensTests : IAsyncLifetime
{
    private const string Password = "correct horse battery";
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private LatchkeyTestServer _server = null!;
    private string _token = null!;

    public async ValueTask InitializeAsync()
    {
        _server = await LatchkeyTestServer.StartAsync();
        await _server.AddUserAsync("alice", Password);
        _token = await _server.GetAccessTokenAsync("alice", Password);
        using HttpResponseMessage first = await _server.GetWithBearerAsync("/me", _token); // verified in full, remembered
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    [Fact]
    public void Validator_SecondCheckOfTheSameToken_IsServedFromMemory()
    {
        var cache = new VerifiedAccessTokens(16, _server.Services.GetRequiredService<SigningKeyRing>(), _server.Time);
        JsonElement claims = _server.Services.GetRequiredService<AccessTokenValidator>().Validate(_token, anyAudience: false);

        Assert.False(cache.TryGet(_token, out _));
        cache.Add(_token, claims, HttpAssert.Part(_token, 0).GetProperty("kid").GetString()!);

        Assert.True(cache.TryGet(_token, out JsonElement remembered));
        Assert.Equal(claims.GetRawText(), remembered.GetRawText());
        Assert.False(cache.TryGet(_token + "x", out _)); // by exact text only
    }

    [Fact]
    public void Validator_CacheSizeZero_RemembersNothing()
    {
        var cache = new VerifiedAccessTokens(0, _server.Services.GetRequiredService<SigningKeyRing>(), _server.Time);
        JsonElement claims = _server.Services.GetRequiredService<AccessTokenValidator>().Validate(_token, anyAudience: false);

        cache.Add(_token, claims, HttpAssert.Part(_token, 0).GetProperty("kid").GetString()!);

        Assert.False(cache.TryGet(_token, out _));
    }

    [Fact]
    public async Task Me_RememberedToken_WithinLeewayStillAccepted_BeyondItRefused()
    {
        _server.Time.Advance(TimeSpan.FromMinutes(30) + TimeSpan.FromSeconds(29));
        using (HttpResponseMessage withinLeeway = await _server.GetWithBearerAsync("/me", _token))
            Assert.Equal(HttpStatusCode.OK, withinLeeway.StatusCode);

        _server.Time.Advance(TimeSpan.FromSeconds(1));
        using HttpResponseMessage expired = await _server.GetWithBearerAsync("/me", _token);

        Assert.Equal(HttpStatusCode.Unauthorized, expired.StatusCode);
    }

    [Theory]
    [InlineData(1)] // the claims
    [InlineData(2)] // the signature
    public async Task Me_RememberedTokenAlteredInOnePart_Refused(int part)
    {
        string[] parts = _token.Split('.');
        byte[] bytes = Base64Url.DecodeFromChars(parts[part]);
        bytes[^1] ^= 1;
        parts[part] = Base64Url.EncodeToString(bytes);

        using HttpResponseMessage response = await _server.GetWithBearerAsync("/me", string.Join('.', parts));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        using HttpResponseMessage genuine = await _server.GetWithBearerAsync("/me", _token);
        Assert.Equal(HttpStatusCode.OK, genuine.StatusCode);
    }

    [Fact]
    public async Task Me_SigningKeyDeletedFromTheDatabase_RememberedTokenRefusedOnceTheRingNoLongerHasIt()
    {
        string kid = HttpAssert.Part(_token, 0).GetProperty("kid").GetString()!;
        await _server.Services.GetRequiredService<KeyRotation>().RotateAsync(null, "test", Ct);
        // An operator removing a compromised key by hand (on whichever database this server runs).
        await using (DbConnection connection = await _server.Services.GetRequiredService<SqlDatabase>().OpenAsync(Ct))
        await using (DbCommand delete = connection.CreateCommand("DELETE FROM signing_keys WHERE kid = @kid").Add("@kid", kid))
            Assert.Equal(1, await delete.ExecuteNonQueryAsync(Ct));

        await _server.Services.GetRequiredService<SigningKeyRing>().RefreshAsync(Ct);
        using HttpResponseMessage response = await _server.GetWithBearerAsync("/me", _token);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }
}
