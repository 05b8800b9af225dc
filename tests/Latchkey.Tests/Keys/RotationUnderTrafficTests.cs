using System.Text.Json;
using Latchkey.Keys;
using Latchkey.Tests.Support;
using Microsoft.Extensions.Time.Testing;

namespace Latchkey.Tests.Keys;

/// <summary>
/// Tokens keep being issued and verified, through the JWKS as an outside verifier would (honouring the JWKS
/// max-age and never re-fetching on an unknown kid), while keys rotate several times: not one verification fails.
/// </summary>
public sealed class RotationUnderTrafficTests
{
    private const string Password = "correct horse battery";

    [Theory]
    [InlineData("ES256")]
    [InlineData("EdDSA")]
    public async Task Rotation_UnderTraffic_ZeroVerificationFailures(string algorithm)
    {
        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync(o => o.SigningAlgorithm = algorithm);
        await server.AddUserAsync("alice", Password);
        var rotation = server.Services.GetRequiredService<KeyRotation>();
        var ring = server.Services.GetRequiredService<SigningKeyRing>();
        var verifier = new CachingVerifier(server);
        var live = new List<(string Token, DateTimeOffset Expires)>();
        var kidsSeen = new HashSet<string>();
        int verifications = 0;

        // Four hours in one-minute steps; a rotation every 40 minutes (six in all), alternating algorithms.
        for (int minute = 1; minute <= 240; minute++)
        {
            server.Time.Advance(TimeSpan.FromMinutes(1));
            if (minute % 40 == 0)
                await rotation.RotateAsync(minute % 80 == 0 ? algorithm : "RS256", "test", CancellationToken.None);
            await ring.RefreshAsync(CancellationToken.None); // what the 30 s background tick does

            string token = await server.GetAccessTokenAsync("alice", Password);
            kidsSeen.Add(HttpAssert.Part(token, 0).GetProperty("kid").GetString()!);
            live.Add((token, server.Time.GetUtcNow().AddMinutes(30)));
            live.RemoveAll(t => t.Expires <= server.Time.GetUtcNow());

            foreach ((string t, _) in live)
            {
                await verifier.VerifyAsync(t); // throws on any failure
                verifications++;
            }
        }

        Assert.True(kidsSeen.Count >= 6, $"tokens were signed by {kidsSeen.Count} keys; the rotations did not take effect");
        Assert.True(verifications > 5000, $"only {verifications} verifications");
        Assert.True(verifier.Fetches > 1, "the verifier should have re-fetched the JWKS as its cache expired");
    }

    /// <summary>An API that caches the JWKS for its max-age, by the (fake) clock, and verifies offline from it.</summary>
    private sealed class CachingVerifier(LatchkeyTestServer server)
    {
        private Dictionary<string, string> _keys = [];
        private DateTimeOffset _expires = DateTimeOffset.MinValue;

        public int Fetches { get; private set; }

        public async Task VerifyAsync(string token)
        {
            FakeTimeProvider time = server.Time;
            if (time.GetUtcNow() >= _expires)
            {
                using HttpResponseMessage response = await server.Client.GetAsync("/.well-known/jwks.json");
                JsonElement jwks = await HttpAssert.OkJsonAsync(response);
                _keys = jwks.GetProperty("keys").EnumerateArray().ToDictionary(k => k.GetProperty("kid").GetString()!, k => k.GetRawText());
                _expires = time.GetUtcNow() + response.Headers.CacheControl!.MaxAge!.Value;
                Fetches++;
            }

            JsonElement header = HttpAssert.Part(token, 0);
            string kid = header.GetProperty("kid").GetString()!;
            Assert.True(_keys.TryGetValue(kid, out string? jwk), $"kid {kid} is not in the cached JWKS at {time.GetUtcNow():O}");
            var options = new JwtDecodeOptions { Audience = "api", Issuer = LatchkeyTestServer.Issuer, TimeProvider = time };
            string alg = header.GetProperty("alg").GetString()!;
            _ = JsonWebKeys.FromPublicJwk(jwk) switch
            {
                Latchkey.Jose.EcdsaJwsKey ec => Jwt.Decode(token, ec.Key, [alg], options),
                Latchkey.Jose.RsaJwsKey rsa => Jwt.Decode(token, rsa.Key, [alg], options),
                Latchkey.Jose.EdDsaJwsKey ed => Jwt.Decode(token, ed.PublicKey, [alg], options),
                var other => throw new InvalidOperationException($"unexpected key {other}"),
            };
        }
    }
}
