using System.Text.Json.Serialization;
using Latchkey.Clients;
using Latchkey.Grants;
using Latchkey.Protocol;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Latchkey.Endpoints;

/// <summary>The seed tutorial's response shape, <c>{"access_token": …}</c>, plus what a client needs to use it.</summary>
internal sealed record SeedTokenResponse(
    [property: JsonPropertyName("access_token")] string AccessToken,
    [property: JsonPropertyName("token_type")] string TokenType,
    [property: JsonPropertyName("expires_in")] long ExpiresIn);

/// <summary>
/// <c>GET /token</c>: the seed tutorial's endpoint made safe. The tutorial hands a token to anyone who asks; here
/// the caller proves who they are with HTTP Basic (RFC 7617) and gets a token for themselves, through the same
/// password grant, throttling and signing as <c>POST /token</c>.
/// </summary>
internal static class SeedTokenEndpoint
{
    public static IEndpointConventionBuilder MapSeedTokenEndpoint(this IEndpointRouteBuilder routes) =>
        routes.MapGet("/token", HandleAsync)
            .WithName("SeedToken")
            .WithSummary("Get an access token with HTTP Basic user credentials (the seed tutorial's GET /token).");

    private static async Task<Results<SeedTokenHttpResult, OAuthErrorHttpResult>> HandleAsync(
        HttpContext http, PasswordGrant password, TokenMint mint, ClientAuthenticator clients, IOptions<LatchkeyOptions> options,
        CancellationToken cancellationToken)
    {
        if (!options.Value.PasswordGrant.Enabled)
            return OAuthResults.Error(new OAuthError(OAuthErrors.UnsupportedGrantType, "Password logins are turned off on this server.") { Detail = "password grant disabled" });

        string? header = http.Request.Headers.Authorization;
        if (string.IsNullOrEmpty(header) || !ClientAuthenticator.TryParseBasic(header, formUrlEncoded: false, out string? user, out string? secret))
        {
            return OAuthResults.Error(new OAuthError(OAuthErrors.InvalidRequest,
                "Send your username and password with HTTP Basic authentication, e.g. curl -u alice http://…/token.",
                StatusCodes.Status401Unauthorized)
            { ChallengeBasic = true });
        }

        var request = new TokenRequest
        {
            GrantType = GrantTypes.Password,
            Username = user,
            Password = secret,
            ClientAddress = http.Connection.RemoteIpAddress,
        };
        // The first-party client, as at POST /token (an admin may have disabled it), but without refresh tokens: the seed's shape has none.
        (Client? firstParty, OAuthError? refused) = await clients.AuthenticateAsync(null, null, null, cancellationToken);
        if (firstParty is null)
            return OAuthResults.Error(refused!);
        GrantDecision decision = await password.DecideAsync(request, firstParty with { AllowedGrantTypes = [GrantTypes.Password] }, scopes: [], cancellationToken);
        GrantResult result = decision.Grant is { } granted ? await mint.MintAsync(granted, request.ClientAddress, cancellationToken) : decision.Error!;
        return result.Response is { } r
            ? new SeedTokenHttpResult(new SeedTokenResponse(r.AccessToken, r.TokenType, r.ExpiresIn))
            : OAuthResults.Error(result.Error!);
    }
}

/// <summary>200 with the seed shape, never cached.</summary>
internal sealed class SeedTokenHttpResult(SeedTokenResponse response) : IResult
{
    public Task ExecuteAsync(HttpContext httpContext)
    {
        OAuthResults.NoStore(httpContext.Response);
        return httpContext.Response.WriteAsJsonAsync(response, EndpointsJsonContext.Default.SeedTokenResponse);
    }
}
