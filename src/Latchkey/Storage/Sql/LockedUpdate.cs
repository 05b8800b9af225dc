using System.Data.Common;

namespace Latchkey.Storage.Sql;

/// <summary>
/// A read-modify-write of one row that cannot lose a concurrent update: in one write transaction, the row is read under
/// its lock (SQLite: the transaction holds the database; PostgreSQL: <c>FOR UPDATE</c>), changed, written back, and, when
/// given, a revocation recorded with it. A second change of the same row waits for the first and then sees it.
/// </summary>
internal static class LockedUpdate
{
    /// <param name="selectSql">Selects the row by <c>@id</c>, without the lock clause (added here).</param>
    /// <param name="updateSql">Writes the row whose parameters <paramref name="parameters"/> sets.</param>
    /// <returns>The row before and after, or null when there is no such row (nothing is written).</returns>
    public static async Task<(T Before, T After)?> RunAsync<T>(SqlDatabase database, string selectSql, string id, Func<DbDataReader, T> read,
        Func<T, T> change, string updateSql, Action<DbCommand, T> parameters, Revocation? revocation, CancellationToken cancellationToken)
    {
        await using DbConnection connection = await database.OpenAsync(cancellationToken);
        await using DbTransaction transaction = await database.BeginWriteAsync(connection, cancellationToken);
        await using DbCommand command = connection.CreateCommand(selectSql + database.ForUpdate, transaction).Add("@id", id);
        T before;
        await using (DbDataReader reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            if (!await reader.ReadAsync(cancellationToken))
                return null;
            before = read(reader);
        }

        T after = change(before);
        command.CommandText = updateSql;
        parameters(command, after);
        await command.ExecuteNonQueryAsync(cancellationToken);
        if (revocation is not null)
        {
            command.CommandText = SqlRevocationStore.UpsertSql(database);
            command.AddRevocation(revocation);
            await command.ExecuteNonQueryAsync(cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
        return (before, after);
    }
}
