using System.Diagnostics;
using Latchkey.Clients;
using Latchkey.Diagnostics;
using Latchkey.Grants;
using Latchkey.Protocol;
using Microsoft.Extensions.Options;

namespace Latchkey.Endpoints;

/// <summary>
/// <c>POST /token</c>, the OAuth 2.0 token endpoint (RFC 6749 §3.2).
/// The endpoint every client calls most, so its handler belongs to an object built once and binds only the request: no
/// per-request service lookups, endpoint filter or result to interpret (bench/README.md, "Where a client_credentials request's time goes").
/// It answers a database outage itself (503, as <see cref="DatabaseUnavailableFilter"/> does for the other endpoints).
/// </summary>
internal sealed class TokenEndpoint(
    ClientAuthenticator clients, PasswordGrant password, ClientCredentialsGrant clientCredentials, RefreshTokenGrant refresh,
    AuthorizationCodeGrant authorizationCode, TokenMint mint,
    LatchkeyMetrics metrics, IOptions<LatchkeyOptions> options)
{
    private readonly bool _passwordGrantEnabled = options.Value.PasswordGrant.Enabled;

    public static RouteHandlerBuilder Map(IEndpointRouteBuilder routes)
    {
        TokenEndpoint endpoint = ActivatorUtilities.CreateInstance<TokenEndpoint>(routes.ServiceProvider);
        return routes.MapPost("/token", endpoint.HandleAsync)
            .DisableAntiforgery()
            .WithName("Token")
            .WithSummary("Exchange credentials for an access token (RFC 6749).")
            .WithDescription("Errors are RFC 6749 §5.2 JSON with Cache-Control: no-store: 400 for a bad request or grant, " +
                "401 invalid_client, 429 while a username or address is throttled (with Retry-After).")
            .AddOpenApiOperationTransformer(ApiDocs.TokenRequestFormAsync)
            .Produces<TokenResponse>()
            .Produces<OAuthErrorBody>(StatusCodes.Status400BadRequest)
            .Produces<OAuthErrorBody>(StatusCodes.Status401Unauthorized)
            .Produces<OAuthErrorBody>(StatusCodes.Status429TooManyRequests);
    }

    /// <summary>
    /// Answers one token request: <see cref="ProcessAsync"/> decides, wrapped by what every request gets: the 503 answer
    /// while the database is down, and the duration metric.
    /// </summary>
    private async Task HandleAsync(HttpContext http, CancellationToken cancellationToken)
    {
        // Real elapsed time, not TimeProvider: this measures the machine, and a test's fake clock would read zero.
        long started = Stopwatch.GetTimestamp();
        (string? grantType, GrantResult result) = (null, default);
        try
        {
            (grantType, result) = await ProcessAsync(http.Request, cancellationToken);
        }
        catch (Exception e) when (DatabaseUnavailableFilter.OAuthError(http, e) is { } unavailable)
        {
            result = unavailable;
        }

        // The grant type is the caller's string: only the ones we have become a metric tag.
        string grantTag = grantType is not null && GrantFor(grantType) is not null ? grantType : "unknown";
        metrics.TokenRequestCompleted(Stopwatch.GetElapsedTime(started), grantTag, result.Error?.Code ?? "success");
        IResult answer = result.Response is { } response ? OAuthResults.Token(response) : OAuthResults.Error(result.Error!);
        await answer.ExecuteAsync(http);
    }

    /// <summary>The grant for a grant type this server has on, or null. Adding a grant: one file, and one line here.</summary>
    private IGrant? GrantFor(string grantType) => grantType switch
    {
        GrantTypes.Password when _passwordGrantEnabled => password,
        GrantTypes.ClientCredentials => clientCredentials,
        GrantTypes.RefreshToken => refresh,
        GrantTypes.AuthorizationCode => authorizationCode,
        _ => null,
    };

    /// <summary>
    /// Every token request goes through the same steps, in this order. Shared security checks live here, so a grant only
    /// does what is unique to it and cannot skip one. Returns the grant type asked for (once parsed) with the outcome.
    /// </summary>
    private async Task<(string? GrantType, GrantResult Result)> ProcessAsync(HttpRequest http, CancellationToken cancellationToken)
    {
        // 1. Parse the form once: size, media type, UTF-8, no repeated parameters.
        (Dictionary<string, string>? form, OAuthError? error) = await FormBody.ReadAsync(http, options.Value.MaxTokenRequestBytes, cancellationToken);
        if (form is null)
            return (null, error!);
        (TokenRequest? request, error) = TokenRequest.From(form, http.HttpContext.Connection.RemoteIpAddress);
        if (request is null)
            return (null, error!);
        string grantType = request.GrantType;

        // 2. Authenticate the client.
        (Client? client, error) = await clients.AuthenticateAsync(request.ClientId, request.ClientSecret, http.Headers.Authorization, cancellationToken);
        if (client is null)
            return (grantType, error!);

        // 3. The grant type must be one this server has on, and this client must be allowed to use it.
        if (GrantFor(grantType) is not { } grant)
            return (grantType, new OAuthError(OAuthErrors.UnsupportedGrantType, "The grant_type is not supported.") { Detail = "unknown grant_type" });
        if (!client.MayUse(grantType))
        {
            return (grantType, new OAuthError(OAuthErrors.UnauthorizedClient, "This client may not use this grant_type.")
            {
                Detail = $"client '{client.ClientId}' may not use {grantType}",
            });
        }

        // 4. The scope must be well-formed, and every value one the client may ask for (RFC 6749 §3.3).
        if (request.Scopes is not { } scopes)
            return (grantType, new OAuthError(OAuthErrors.InvalidScope, "The scope parameter is malformed."));
        if (scopes.FirstOrDefault(s => !client.AllowedScopes.Contains(s) && !(Scopes.OpenIdConnect.Contains(s) && client.MayUse(GrantTypes.AuthorizationCode)))
            is { } unknownScope)
            return (grantType, new OAuthError(OAuthErrors.InvalidScope, "The requested scope is not allowed.") { Detail = $"scope '{unknownScope}'" });
        if (scopes.Contains(Scopes.Admin) && AdminScopeRefusal(grantType, scopes) is { } adminRefusal)
            return (grantType, adminRefusal);

        // 5. The grant proves who is asking, and decides what they get.
        GrantDecision decision = await grant.DecideAsync(request, client, scopes, cancellationToken);
        if (decision.Grant is not { } granted)
            return (grantType, decision.Error!);

        // 6. Mint the tokens.
        return (grantType, await mint.MintAsync(granted, request.ClientAddress, cancellationToken));
    }

    /// <summary>
    /// Why the admin scope cannot be granted here, or null. An admin token is for Latchkey alone (its audience is the issuer),
    /// so it carries no other scope; it is a user's (the account is re-checked at every /admin request), never a client's
    /// own; and with a shared HMAC secret every verifier could forge one, so admin then stays on the command line.
    /// </summary>
    private OAuthError? AdminScopeRefusal(string grantType, IReadOnlyList<string> scopes)
    {
        if (JwtAlgorithms.IsHmac(options.Value.SigningAlgorithm))
            return new OAuthError(OAuthErrors.InvalidScope, $"The {Scopes.Admin} scope is not issued when tokens are signed with a shared HMAC secret: use the latchkey command line.");
        if (scopes.Count > 1)
            return new OAuthError(OAuthErrors.InvalidScope, $"The {Scopes.Admin} scope cannot be combined with other scopes: request it alone.");
        if (grantType == GrantTypes.ClientCredentials)
            return new OAuthError(OAuthErrors.InvalidScope, $"The {Scopes.Admin} scope is for a user's token, not a client's own.");
        return null;
    }
}
