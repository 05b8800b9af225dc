using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Latchkey.Storage.Sqlite;

/// <summary>
/// Readiness: the database file opens and answers <c>SELECT 1</c>. The connection is a fresh one, outside the pool,
/// and may not create the file: a pooled connection keeps working on a file that was deleted or moved away, and
/// creating an empty database would report "ready" for a server that has lost its users and keys.
/// </summary>
internal sealed class SqliteHealthCheck(SqliteDatabase database) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        string connectionString = new SqliteConnectionStringBuilder(database.ConnectionString)
        {
            Mode = SqliteOpenMode.ReadWrite,
            Pooling = false,
        }.ToString();
        try
        {
            await using var connection = new SqliteConnection(connectionString);
            await connection.OpenAsync(cancellationToken);
            await using SqliteCommand command = connection.CreateCommand();
            command.CommandText = "SELECT 1";
            await command.ExecuteScalarAsync(cancellationToken);
            return HealthCheckResult.Healthy("the database answers");
        }
        catch (SqliteException e)
        {
            // The path is not a secret, and it is what an operator needs; the exception goes to the health-check log.
            return HealthCheckResult.Unhealthy($"the database {database.Path} does not answer: {e.Message}", e);
        }
    }
}
