using System.Security.Claims;
using System.Text.Encodings.Web;
using System.Text.Json;
using Latchkey.Diagnostics;
using Latchkey.Protocol;
using Latchkey.Tokens;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Latchkey.Endpoints;

/// <summary>
/// Authenticates <c>Authorization: Bearer</c> access tokens for Latchkey's own endpoints (RFC 6750), and answers
/// failures with 401 and a <c>WWW-Authenticate</c> challenge that says why, in RFC 6750 §3 terms.
/// </summary>
internal sealed class BearerAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory loggerFactory,
    UrlEncoder encoder,
    AccessTokenValidator validator)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, loggerFactory, encoder)
{
    public const string SchemeName = "Latchkey";

    /// <summary>The validated token's claims, as sent, for <c>/me</c>.</summary>
    public const string ClaimsItemKey = "Latchkey.AccessTokenClaims";

    private const string FailureItemKey = "Latchkey.BearerFailure";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        string? header = Request.Headers.Authorization;
        // Another scheme (Basic on GET /token, say) is not a bearer attempt: nothing to refuse here.
        if (string.IsNullOrEmpty(header) || !header.StartsWith("Bearer", StringComparison.OrdinalIgnoreCase))
            return AuthenticateResult.NoResult();

        string token = header.Length > 7 && header[6] == ' ' ? header[7..].Trim() : "";
        if (token.Length == 0 || token.Contains(' '))
            return Fail(BearerErrors.InvalidRequest, "The Authorization header is not 'Bearer <token>'.");

        JsonElement claims;
        try
        {
            claims = validator.Validate(token, anyAudience: false);
        }
        catch (JwtException e)
        {
            Log.BearerTokenRefused(Logger, e.Failure, e.Message);
            return Fail(BearerErrors.InvalidToken, "The access token is invalid, expired or revoked.");
        }

        Context.Items[ClaimsItemKey] = claims;
        var identity = new ClaimsIdentity(SchemeName, LatchkeyClaims.Subject, LatchkeyClaims.Role);
        identity.AddClaim(new Claim(LatchkeyClaims.Subject, claims.GetProperty(LatchkeyClaims.Subject).ToString()));
        // Who acted, for the admin API's audit events.
        if (claims.TryGetProperty(LatchkeyClaims.PreferredUsername, out JsonElement username) && username.ValueKind == JsonValueKind.String)
            identity.AddClaim(new Claim(LatchkeyClaims.PreferredUsername, username.GetString()!));
        if (claims.TryGetProperty(LatchkeyClaims.Role, out JsonElement roles) && roles.ValueKind == JsonValueKind.Array)
        {
            foreach (JsonElement role in roles.EnumerateArray())
                identity.AddClaim(new Claim(LatchkeyClaims.Role, role.ToString()));
        }

        var ticket = new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName);
        return AuthenticateResult.Success(ticket);
    }

    private AuthenticateResult Fail(string error, string description)
    {
        Context.Items[FailureItemKey] = (error, description);
        return AuthenticateResult.Fail(description);
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        // RFC 6750 §3.1: no error code when the request carried no token at all.
        string challenge = "Bearer realm=\"latchkey\"";
        string detail = "This endpoint needs an access token: Authorization: Bearer <token>.";
        if (Context.Items[FailureItemKey] is (string error, string description))
        {
            challenge += $", error=\"{error}\", error_description=\"{description}\"";
            detail = description;
        }

        Response.Headers.WWWAuthenticate = challenge;
        return Problem(StatusCodes.Status401Unauthorized, "Unauthorized", detail);
    }

    /// <summary>403, saying why; for a token without the scope the endpoint needs, with an RFC 6750 §3.1 <c>insufficient_scope</c> challenge.</summary>
    protected override Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        string detail = "Your access token does not give access to this endpoint.";
        string challenge = "Bearer realm=\"latchkey\"";
        if (Context.Items[Endpoints.Admin.AdminAccessHandler.RefusalItemKey] is Endpoints.Admin.AdminRefusal refusal)
        {
            detail = refusal.Description;
            if (refusal.Error is { } error)
                challenge += $", error=\"{error}\", error_description=\"{refusal.Description}\", scope=\"{Scopes.Admin}\"";
        }

        Response.Headers.WWWAuthenticate = challenge;
        return Problem(StatusCodes.Status403Forbidden, "Forbidden", detail);
    }

    private Task Problem(int status, string title, string detail)
    {
        Response.StatusCode = status;
        Response.Headers.CacheControl = "no-store";
        return Response.WriteAsJsonAsync(
            new Microsoft.AspNetCore.Mvc.ProblemDetails { Status = status, Title = title, Detail = detail },
            LatchkeyJsonContext.Default.ProblemDetails, "application/problem+json");
    }
}
