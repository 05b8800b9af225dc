using System.Text.Json;
using BenchmarkDotNet.Attributes;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Latchkey.Bench.Micro;

/// <summary>Creating one access token (the claims of a client_credentials token), per algorithm.</summary>
public class CreateToken
{
    [Params("HS256", "ES256", "EdDSA", "RS256")]
    public string Algorithm { get; set; } = "";

    private TokenFixture _fixture = null!;

    [GlobalSetup]
    public void Setup() => _fixture = TokenFixture.Create(Algorithm);

    [GlobalCleanup]
    public void Cleanup() => _fixture.Dispose();

    /// <summary>The signature alone, over the signing input of a Latchkey token.</summary>
    [Benchmark(Baseline = true)]
    public int Raw() => _fixture.Raw.Sign(_fixture.SigningInput, _fixture.SignatureBuffer);

    /// <summary>What POST /token runs: AccessTokenIssuer.Issue (claims, jti, header, signature).</summary>
    [Benchmark]
    public string Latchkey_Issuer() => _fixture.Issue(TokenFixture.Subject).Token;

    /// <summary>The public one-call API with the same claims and header.</summary>
    [Benchmark]
    public string Latchkey_JwtEncode() => _fixture.JwtEncode();

    [Benchmark]
    public string IdentityModel() => _fixture.Handler.CreateToken(_fixture.Descriptor());
}

/// <summary>Validating one access token made by Latchkey's issuer, per algorithm.</summary>
public class ValidateToken
{
    [Params("HS256", "ES256", "EdDSA", "RS256")]
    public string Algorithm { get; set; } = "";

    private TokenFixture _fixture = null!;

    [GlobalSetup]
    public void Setup() => _fixture = TokenFixture.Create(Algorithm);

    [GlobalCleanup]
    public void Cleanup() => _fixture.Dispose();

    /// <summary>The signature check alone, on the token's own bytes.</summary>
    [Benchmark(Baseline = true)]
    public bool Raw() => _fixture.Raw.Verify(_fixture.SigningInput, _fixture.Signature);

    /// <summary>AccessTokenValidator.VerifyOffline: parse, header, signature, claims; no database.</summary>
    [Benchmark]
    public JsonElement Latchkey_Validator() => _fixture.VerifyOffline(_fixture.Token, false);

    /// <summary>AccessTokenValidator.ValidateAsync: what /me runs per request, VerifyOffline plus the SQLite deny-list lookup.</summary>
    [Benchmark]
    public Task<JsonElement> Latchkey_ValidatorWithDenyList() => _fixture.ValidateAsync(_fixture.Token, false, CancellationToken.None);

    /// <summary>The public one-call API (returns a dictionary of the claims).</summary>
    [Benchmark]
    public IReadOnlyDictionary<string, object?> Latchkey_JwtDecode() => _fixture.JwtDecode();

    [Benchmark]
    public Task<TokenValidationResult> IdentityModel() => _fixture.Handler.ValidateTokenAsync(_fixture.Token, _fixture.ValidationParameters);
}
