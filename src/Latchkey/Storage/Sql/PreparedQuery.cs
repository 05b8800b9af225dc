using System.Collections.Concurrent;
using System.Data.Common;

namespace Latchkey.Storage.Sql;

/// <summary>
/// One read-only query that runs on every request of a hot path (a refresh token's lookup), on connections kept open
/// for it with the query's command prepared once, where the database gains from that
/// (<see cref="SqlDatabase.KeepsQueriesPrepared"/>). Microsoft.Data.Sqlite prepares once per command object: a
/// connection opened and a command created for each request parsed and planned the SQL each time, and opening a pooled
/// connection costs more again. Kept open, a refresh-token rotation takes less CPU (bench/README.md, "Where a refresh
/// rotation's time goes"). Elsewhere (PostgreSQL: Npgsql prepares automatically on its pooled connections) each
/// execution opens a pooled connection, as any other query does.
/// </summary>
internal sealed class PreparedQuery(SqlDatabase database, string sql) : IDisposable
{
    /// <summary>The most idle connections kept; more are closed when given back. A burst past it only opens more.</summary>
    public const int MaxIdle = 16;

    private readonly ConcurrentBag<DbCommand> _idle = [];
    private volatile bool _disposed;

    /// <summary>Places taken in <see cref="_idle"/>: reserved before a command is added, so that two given back at once cannot both pass the limit.</summary>
    private int _idleSlots;

    /// <summary>Binds the parameters, executes, and reads the result; the reader is closed before the connection is reused.</summary>
    public async Task<T> ReadAsync<T>(Action<DbCommand> bind, Func<DbDataReader, CancellationToken, Task<T>> read, CancellationToken cancellationToken)
    {
        DbCommand command;
        if (_idle.TryTake(out DbCommand? kept))
        {
            Interlocked.Decrement(ref _idleSlots);
            command = kept;
        }
        else
        {
            command = await CreateAsync(cancellationToken);
        }

        bool reusable = false;
        try
        {
            bind(command);
            T result;
            await using (DbDataReader reader = await command.ExecuteReaderAsync(cancellationToken))
                result = await read(reader, cancellationToken);
            reusable = database.KeepsQueriesPrepared;
            return result;
        }
        finally
        {
            // After a failure the connection's state is unknown (a cancelled read, a database gone): close it.
            bool keep = false;
            if (reusable && !_disposed)
            {
                keep = Interlocked.Increment(ref _idleSlots) <= MaxIdle;
                if (!keep)
                    Interlocked.Decrement(ref _idleSlots);
            }

            if (keep)
                _idle.Add(command);
            else
                Close(command);

            if (_disposed)
                CloseIdle();
        }
    }

    public int IdleCount => _idle.Count;

    public void Dispose()
    {
        _disposed = true;
        CloseIdle();
    }

    private async Task<DbCommand> CreateAsync(CancellationToken cancellationToken)
    {
        DbConnection connection = await database.OpenAsync(cancellationToken);
        return connection.CreateCommand(sql);
    }

    private void CloseIdle()
    {
        while (_idle.TryTake(out DbCommand? command))
        {
            Interlocked.Decrement(ref _idleSlots);
            Close(command);
        }
    }

    private static void Close(DbCommand command)
    {
        DbConnection? connection = command.Connection;
        command.Dispose();
        connection?.Dispose();
    }
}
