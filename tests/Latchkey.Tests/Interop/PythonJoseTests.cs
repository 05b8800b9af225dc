using System.Security.Cryptography;
using System.Text.Json;
using Latchkey.Tests.Samples;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace Latchkey.Tests.Interop;

/// <summary>
/// Latchkey against the Python libraries the seed tutorial uses: python-jose 3.3.0 (its jwt.encode) and PyJWT
/// (what most Python services decode with), both from Debian's apt packages.
/// </summary>
public sealed class PythonJoseTests(SeedSampleFixture seed) : IClassFixture<SeedSampleFixture>
{
    private const string JoseEncode = """
        import sys
        from jose import jwt
        print(jwt.encode({"sub": "user123", "role": "admin"}, sys.argv[1], algorithm="HS256"))
        """;

    private const string JoseDecode = """
        import json, sys
        from jose import jwt, JWTError
        print(json.dumps(jwt.decode(sys.argv[1], sys.argv[2], algorithms=["HS256"]), sort_keys=True))
        try:
            jwt.decode(sys.argv[1], sys.argv[2] + "x", algorithms=["HS256"])
            print("accepted with the wrong secret")
        except JWTError:
            print("refused with the wrong secret")
        """;

    private const string PyJwtEncode = """
        import sys, jwt
        exp = int(sys.argv[2])
        print(jwt.encode({"sub": "u1", "role": "admin", "iat": exp - 600, "exp": exp}, bytes.fromhex(sys.argv[1]), algorithm="HS256"))
        """;

    private const string PyJwtDecode = """
        import json, sys, jwt
        try:
            print(json.dumps(jwt.decode(sys.argv[1], bytes.fromhex(sys.argv[2]), algorithms=["HS256"]), sort_keys=True))
        except jwt.ExpiredSignatureError:
            print("ExpiredSignatureError")
        """;

    [Fact]
    public async Task Encode_SeedInputs_EqualsPythonJoseEncode()
    {
        string python = await DebianPython.RunAsync(JoseEncode, "mysecretkey123");

        string latchkey = Jwt.Encode(new Dictionary<string, object> { ["sub"] = "user123", ["role"] = "admin" },
            "mysecretkey123", allowShortHmacKey: true);

        Assert.Equal(python, latchkey);
        Assert.Equal(SeedSampleTests.SeedToken, latchkey);
    }

    [Fact]
    public async Task SeedSampleToken_DecodedByPythonJose_GivesSeedClaims()
    {
        string body = await seed.Http.GetStringAsync("/token", TestContext.Current.CancellationToken);
        string token = JsonDocument.Parse(body).RootElement.GetProperty("access_token").GetString()!;

        string[] output = (await DebianPython.RunAsync(JoseDecode, token, "mysecretkey123")).Split('\n');

        Assert.Equal("""{"role": "admin", "sub": "user123"}""", output[0]);
        Assert.Equal("refused with the wrong secret", output[1]);
    }

    [Fact]
    public async Task Decode_PyJwtHS256TokenWithExp_DecodesAndExpiresAtSameSecond()
    {
        byte[] secret = RandomNumberGenerator.GetBytes(32);
        var exp = new DateTimeOffset(2030, 1, 1, 0, 10, 0, TimeSpan.Zero);
        string token = await DebianPython.RunAsync(PyJwtEncode, Convert.ToHexString(secret), exp.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture));

        var claims = Jwt.Decode(token, secret, ["HS256"],
            new JwtDecodeOptions { TimeProvider = new FakeTimeProvider(exp.AddMinutes(-5)), RequiredClaims = ["exp", "iat"] });

        Assert.Equal("u1", claims["sub"]);
        Assert.Equal("admin", claims["role"]);
        Assert.Equal(exp.ToUnixTimeSeconds(), claims["exp"]);
        Assert.Throws<JwtExpiredException>(() => Jwt.Decode(token, secret, ["HS256"],
            new JwtDecodeOptions { TimeProvider = new FakeTimeProvider(exp), Leeway = TimeSpan.Zero }));
    }

    [Fact]
    public async Task Encode_TokenWithFutureExp_DecodedByPyJwt()
    {
        // PyJWT checks exp against the real clock, so the dates are far from today on either side.
        byte[] secret = RandomNumberGenerator.GetBytes(32);
        var exp = new DateTimeOffset(2100, 1, 1, 0, 0, 0, TimeSpan.Zero);
        string token = Jwt.Encode(new { sub = "u1", role = "admin", exp }, secret);

        string python = await DebianPython.RunAsync(PyJwtDecode, token, Convert.ToHexString(secret));

        Assert.Equal($$"""{"exp": {{exp.ToUnixTimeSeconds()}}, "role": "admin", "sub": "u1"}""", python);
    }

    [Fact]
    public async Task Encode_TokenWithPastExp_RefusedByPyJwtAsExpired()
    {
        byte[] secret = RandomNumberGenerator.GetBytes(32);
        string token = Jwt.Encode(new { sub = "u1", exp = new DateTimeOffset(2000, 1, 1, 0, 0, 0, TimeSpan.Zero) }, secret);

        string python = await DebianPython.RunAsync(PyJwtDecode, token, Convert.ToHexString(secret));

        Assert.Equal("ExpiredSignatureError", python);
    }
}
