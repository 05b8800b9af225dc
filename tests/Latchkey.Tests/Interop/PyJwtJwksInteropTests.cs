using System.Text.Json;
using Latchkey.Tests.Support;

namespace Latchkey.Tests.Interop;

/// <summary>
/// An outside verifier that knows only the JWKS URL: PyJWT's PyJWKClient fetches our keys over HTTP, picks the key
/// by kid, and verifies a token from the running server with the audience and issuer checks a real API would use.
/// </summary>
public sealed class PyJwtJwksInteropTests
{
    private const string VerifyScript = """
        import json, sys, jwt
        jwks_url, token, audience, issuer = sys.argv[1:5]
        key = jwt.PyJWKClient(jwks_url).get_signing_key_from_jwt(token)
        claims = jwt.decode(token, key.key, algorithms=["ES256"], audience=audience, issuer=issuer,
                            options={"require": ["exp", "iat", "sub", "jti"]})
        print(json.dumps({"kid": key.key_id, "claims": claims}))
        """;

    [Fact]
    public async Task PyJwkClient_ServerToken_VerifiesFromTheJwksUrlAlone()
    {
        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync();
        await server.AddUserAsync("alice", "correct horse battery", "admin");
        string token = await server.GetAccessTokenAsync("alice", "correct horse battery");

        string output = await DebianPython.RunAsync(VerifyScript,
            new Uri(server.BaseAddress, "/.well-known/jwks.json").ToString(), token, "api", LatchkeyTestServer.Issuer);

        JsonElement result = JsonDocument.Parse(output).RootElement;
        Assert.Equal(HttpAssert.Part(token, 0).GetProperty("kid").GetString(), result.GetProperty("kid").GetString());
        Assert.Equal("alice", result.GetProperty("claims").GetProperty("preferred_username").GetString());
        Assert.Equal("admin", result.GetProperty("claims").GetProperty("role")[0].GetString());
    }

    [Fact]
    public async Task PyJwkClient_TamperedServerToken_IsRejected()
    {
        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync();
        await server.AddUserAsync("alice", "correct horse battery");
        string token = await server.GetAccessTokenAsync("alice", "correct horse battery");
        string tampered = token[..^4] + (token[^4] == 'A' ? "BBBB" : "AAAA");

        DebianPython.Result result = await DebianPython.RunRawAsync(VerifyScript,
            new Uri(server.BaseAddress, "/.well-known/jwks.json").ToString(), tampered, "api", LatchkeyTestServer.Issuer);

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("InvalidSignatureError", result.StandardError);
    }
}
