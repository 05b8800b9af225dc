using System.Collections.Concurrent;
using System.Text.Json;
using Latchkey.Accounts;
using Latchkey.Clients;
using Latchkey.Protocol;
using Latchkey.Tokens;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Options;

namespace Latchkey.Endpoints.Admin;

/// <summary>The admin plane's rule, which every <c>/admin</c> request must pass (policy <see cref="LatchkeyPolicies.Admin"/>).</summary>
internal sealed class AdminAccessRequirement : IAuthorizationRequirement;

/// <summary>
/// Opens <c>/admin</c> only to a token issued for Latchkey itself, held by an account that is an admin now:
/// <list type="number">
/// <item>not signed with a shared HMAC secret, which every verifier holds and could forge an admin token with;</item>
/// <item>requested with the admin scope (<see cref="Scopes.Admin"/>), so its audience is Latchkey's issuer and nothing else:
/// a token any API also receives can never be replayed here (403 <c>insufficient_scope</c>, RFC 6750 §3.1);</item>
/// <item>its account still exists, is enabled and holds role <c>admin</c>, re-read from the database: the token's own
/// <c>role</c> claim says only what was true when it was issued. A confirmation is remembered for
/// <see cref="AccountCacheLifetime"/>; a change made on this node (disable, roles) cuts the token off at once anyway;</item>
/// <item>the client it was issued to is still enabled and still allowed the admin scope (through the client cache).</item>
/// </list>
/// </summary>
internal sealed class AdminAccessHandler(UserAccounts users, ClientAuthenticator clients, IOptions<LatchkeyOptions> options, TimeProvider time)
    : AuthorizationHandler<AdminAccessRequirement>
{
    /// <summary>How long an account confirmed as an enabled admin is believed without reading it again.</summary>
    public static readonly TimeSpan AccountCacheLifetime = TimeSpan.FromSeconds(2);

    /// <summary>Where the reason for a refusal waits for the 403 (<see cref="BearerAuthenticationHandler"/>).</summary>
    public const string RefusalItemKey = "Latchkey.AdminRefusal";

    private readonly ConcurrentDictionary<string, DateTimeOffset> _confirmed = new(StringComparer.Ordinal);

    protected override async Task HandleRequirementAsync(AuthorizationHandlerContext context, AdminAccessRequirement requirement)
    {
        if (context.Resource is not HttpContext http || http.Items[BearerAuthenticationHandler.ClaimsItemKey] is not JsonElement claims)
            return;

        if (Refusal(claims) is { } refusal)
        {
            http.Items[RefusalItemKey] = refusal;
            context.Fail(new AuthorizationFailureReason(this, refusal.Description));
            return;
        }

        string? clientId = claims.TryGetProperty(LatchkeyClaims.ClientId, out JsonElement c) && c.ValueKind == JsonValueKind.String ? c.GetString() : null;
        if (clientId is null || !await clients.MayStillRequestAsync(clientId, Scopes.Admin, http.RequestAborted))
        {
            var clientRefusal = new AdminRefusal(null, $"The client this token was issued to may no longer request {Scopes.Admin}.");
            http.Items[RefusalItemKey] = clientRefusal;
            context.Fail(new AuthorizationFailureReason(this, clientRefusal.Description));
            return;
        }

        string userId = claims.GetProperty(LatchkeyClaims.Subject).GetString()!;
        if (!await IsEnabledAdminAsync(userId, http.RequestAborted))
        {
            var accountRefusal = new AdminRefusal(null, "The account behind this token is no longer an enabled admin.");
            http.Items[RefusalItemKey] = accountRefusal;
            context.Fail(new AuthorizationFailureReason(this, accountRefusal.Description));
            return;
        }

        context.Succeed(requirement);
    }

    private AdminRefusal? Refusal(JsonElement claims)
    {
        LatchkeyOptions o = options.Value;
        // With HS*, the only key is the shared secret, so every token verified here was signed with it.
        if (JwtAlgorithms.IsHmac(o.SigningAlgorithm))
            return new AdminRefusal(BearerErrors.InsufficientScope,
                "The admin API is closed while tokens are signed with a shared HMAC secret: use the latchkey command line.");
        string? scope = claims.TryGetProperty(LatchkeyClaims.Scope, out JsonElement s) && s.ValueKind == JsonValueKind.String ? s.GetString() : null;
        bool forLatchkeyAlone = claims.TryGetProperty(LatchkeyClaims.Audience, out JsonElement aud) && aud.ValueKind == JsonValueKind.String &&
                                aud.ValueEquals(o.Issuer);
        if (!Scopes.IncludesAdmin(scope) || !forLatchkeyAlone)
            return new AdminRefusal(BearerErrors.InsufficientScope, $"This endpoint needs a token requested with scope {Scopes.Admin}.");
        return null;
    }

    private async Task<bool> IsEnabledAdminAsync(string userId, CancellationToken cancellationToken)
    {
        DateTimeOffset now = time.GetUtcNow();
        if (_confirmed.TryGetValue(userId, out DateTimeOffset until) && until > now)
            return true;
        UserAccount? user = await users.FindByIdAsync(userId, cancellationToken);
        if (user is null || user.Disabled || !user.Roles.Contains(Roles.Admin))
        {
            _confirmed.TryRemove(userId, out _);
            return false;
        }

        _confirmed[userId] = now + AccountCacheLifetime;
        return true;
    }
}

/// <summary>Why <c>/admin</c> refused a token: an RFC 6750 §3.1 error code for the challenge (or none), and a description.</summary>
internal sealed record AdminRefusal(string? Error, string Description);
