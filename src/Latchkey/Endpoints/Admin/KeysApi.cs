using System.Security.Claims;
using System.Text.Json.Serialization;
using Latchkey.Keys;
using Latchkey.Protocol;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Latchkey.Endpoints.Admin;

/// <summary>A signing key as the admin API lists it: public facts only, never the private key.</summary>
internal sealed record KeySummary(string Kid, string Algorithm, string State, DateTimeOffset CreatedAt, DateTimeOffset SignsFrom, DateTimeOffset? StopsSigning,
    DateTimeOffset? RevokedAt);

/// <summary>The body of <c>POST /admin/keys/rotate</c> (optional).</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
internal sealed record RotateKeyRequest(string? Algorithm);

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
            .WithSummary("Add a signing key: published now, it signs once verifiers can have fetched it; the current key stops then.");
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
        string? algorithm = null;
        if (request.ContentLength is > 0 || request.Headers.TransferEncoding.Count > 0)
        {
            (RotateKeyRequest? body, ProblemHttpResult? problem) = await AdminRequests.ReadJsonAsync(request, AdminJsonContext.Default.RotateKeyRequest, cancellationToken);
            if (body is null)
                return problem!;
            algorithm = body.Algorithm;
        }

        if (JwtAlgorithms.IsHmac(request.HttpContext.RequestServices.GetRequiredService<Microsoft.Extensions.Options.IOptions<LatchkeyOptions>>().Value.SigningAlgorithm))
            return AdminRequests.BadRequest("This server signs with Latchkey:HmacSecret, which lives in configuration: there is no key to rotate.");
        if (algorithm is not null && (!JwtAlgorithms.IsSupported(algorithm) || JwtAlgorithms.IsHmac(algorithm)))
            return AdminRequests.BadRequest($"'{algorithm}' is not an asymmetric algorithm Latchkey generates keys for.");
        SigningKeyInfo key = await rotation.RotateAsync(algorithm, AdminRequests.Actor(request.HttpContext.User), cancellationToken);
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
        new(k.KeyId, k.Algorithm, k.State.ToString().ToLowerInvariant(), k.CreatedAt, k.SignsFrom, k.StopsSigning, k.RevokedAt);
}
