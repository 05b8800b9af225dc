using System.Security.Claims;
using System.Text.Json.Serialization;
using Latchkey.Keys;
using Latchkey.Protocol;
using Latchkey.Storage;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Latchkey.Endpoints.Admin;

/// <summary>A signing key as the admin API lists it: public facts only, never the private key.</summary>
/// <c>Purpose</c> is what it signs: <c>access_token</c> or <c>id_token</c>.
internal sealed record KeySummary(string Kid, string Algorithm, string State, DateTimeOffset CreatedAt, DateTimeOffset SignsFrom, DateTimeOffset? StopsSigning,
    DateTimeOffset? RevokedAt, string Purpose);

/// <summary>
/// The body of <c>POST /admin/keys/rotate</c> (optional): the keys to rotate (<c>purpose</c>, default <c>access_token</c>) and
/// the new key's algorithm (default: the configured one for access tokens, RS256 for id tokens).
/// </summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
internal sealed record RotateKeyRequest(string? Algorithm, string? Purpose = null);

/// <summary>
/// <c>/admin/keys</c>: signing keys, for admin tokens (<see cref="AdminAccessHandler"/>). The same code as
/// <c>latchkey keys</c> (<see cref="KeyRotation"/>); a change made here applies to this node's keys at once, and to every
/// other node's at its next revocation sync (a revocation) or key refresh (a rotation).
/// </summary>
internal static class KeysApi
{
    public static void MapKeysApi(this IEndpointRouteBuilder routes)
    {
        RouteGroupBuilder admin = routes.MapGroup("/admin/keys").RequireAuthorization(LatchkeyPolicies.Admin);
        admin.MapGet("/", ListKeysAsync).WithName("ListKeys").WithSummary("Every signing key and its state: pending, active, retired, gone or revoked.");
        admin.MapPost("/rotate", RotateKeyAsync).WithName("RotateKey")
            .WithSummary("Add a signing key: published now, it signs once verifiers can have fetched it; the current key of its purpose stops then.");
        admin.MapPost("/{kid}/retire", RetireKeyAsync).WithName("RetireKey")
            .WithSummary("Stop a key signing now; its tokens stay valid until they expire.");
        admin.MapPost("/{kid}/revoke", RevokeKeyAsync).WithName("RevokeKey")
            .WithSummary("Revoke a leaked key now: it leaves the JWKS, Latchkey refuses every token it signed, and another key signs from now.");
    }

    private static async Task<JsonHttpResult<KeySummary[]>> ListKeysAsync(KeyRotation rotation, CancellationToken cancellationToken) =>
        TypedResults.Json((await rotation.ListAsync(cancellationToken)).Select(Summary).ToArray(), AdminJsonContext.Default.KeySummaryArray);

    private static async Task<Results<JsonHttpResult<KeySummary>, ProblemHttpResult>> RotateKeyAsync(
        HttpRequest request, KeyRotation rotation, SigningKeyRing ring, CancellationToken cancellationToken)
    {
        string? algorithm = null, purpose = null;
        if (request.ContentLength is > 0 || request.Headers.TransferEncoding.Count > 0)
        {
            (RotateKeyRequest? body, ProblemHttpResult? problem) = await AdminRequests.ReadJsonAsync(request, AdminJsonContext.Default.RotateKeyRequest, cancellationToken);
            if (body is null)
                return problem!;
            (algorithm, purpose) = (body.Algorithm, body.Purpose);
        }

        SigningKeyInfo key;
        try
        {
            key = await rotation.RotateAsync(purpose ?? SigningKeyPurposes.AccessToken, algorithm, AdminRequests.Actor(request.HttpContext.User), cancellationToken);
        }
        catch (ArgumentException e)
        {
            return AdminRequests.BadRequest(e.Message.Split(" (Parameter")[0]);
        }

        await ring.RefreshAsync(cancellationToken);
        return TypedResults.Json(Summary(key), AdminJsonContext.Default.KeySummary);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> RetireKeyAsync(
        string kid, ClaimsPrincipal user, KeyRotation rotation, SigningKeyRing ring, CancellationToken cancellationToken)
    {
        if (await rotation.RetireAsync(kid, AdminRequests.Actor(user), cancellationToken) is { } error)
            return TypedResults.Problem(error, statusCode: error.StartsWith("No signing key", StringComparison.Ordinal) ? StatusCodes.Status404NotFound : StatusCodes.Status400BadRequest);
        await ring.RefreshAsync(cancellationToken);
        return TypedResults.NoContent();
    }

    private static async Task<Results<JsonHttpResult<KeySummary[]>, ProblemHttpResult>> RevokeKeyAsync(
        string kid, ClaimsPrincipal user, KeyRotation rotation, SigningKeyRing ring, CancellationToken cancellationToken)
    {
        (KeyRevocation? result, string? error) = await rotation.RevokeAsync(kid, AdminRequests.Actor(user), cancellationToken);
        if (result is null)
            return TypedResults.Problem(error, statusCode: error!.StartsWith("No signing key", StringComparison.Ordinal) ? StatusCodes.Status404NotFound : StatusCodes.Status400BadRequest);
        // This node stops signing with it and publishing it now; the others at their next revocation sync.
        await ring.RefreshAsync(cancellationToken);
        return TypedResults.Json((await rotation.ListAsync(cancellationToken)).Select(Summary).ToArray(), AdminJsonContext.Default.KeySummaryArray);
    }

    private static KeySummary Summary(SigningKeyInfo k) =>
        new(k.KeyId, k.Algorithm, k.State.ToString().ToLowerInvariant(), k.CreatedAt, k.SignsFrom, k.StopsSigning, k.RevokedAt, k.Purpose);
}
