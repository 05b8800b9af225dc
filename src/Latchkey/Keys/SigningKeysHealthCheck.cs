using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Latchkey.Keys;

/// <summary>Readiness: the signing keys are loaded, so the server can issue tokens and publish its JWKS.</summary>
internal sealed class SigningKeysHealthCheck(SigningKeyRing keys) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(keys.CurrentRecord is { } current
            ? HealthCheckResult.Healthy($"signing with {current.KeyId} ({current.Algorithm})")
            : HealthCheckResult.Unhealthy("the signing keys are not loaded yet"));
}
