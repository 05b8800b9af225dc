using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Latchkey.Storage.Sql;

/// <summary>Readiness of the database, whichever it is (see <see cref="SqlDatabase.CheckHealthAsync"/>).</summary>
internal sealed class DatabaseHealthCheck(SqlDatabase database) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        database.CheckHealthAsync(cancellationToken);
}
