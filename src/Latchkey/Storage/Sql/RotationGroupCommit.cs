using System.Data.Common;
using System.Threading.Channels;

namespace Latchkey.Storage.Sql;

/// <summary>One presentation of a refresh token to spend, and the successor to store if this one spends it.</summary>
internal sealed record RefreshRotation(string TokenHash, RefreshTokenRecord Successor, byte[] SealedSuccessor, DateTimeOffset Now, TimeSpan ReuseWindow)
{
    /// <summary>True when a spent token's successor is kept, sealed, for presentations within the reuse window.</summary>
    public bool KeepsSealed => ReuseWindow > TimeSpan.Zero;
}

/// <summary>
/// Group commit for refresh-token rotations. Rotations queue here, and one writer spends every rotation waiting in one
/// transaction. On SQLite, which runs one write transaction at a time, that is one write lock, one commit and one append
/// to the WAL per group, and each statement prepared once per group; rotations would otherwise take the lock one by one,
/// each polling for it in SQLite's busy handler. On PostgreSQL, a group shares one COMMIT round trip and one WAL flush,
/// and its rotations of different families share their round trips too (<see cref="SqlRefreshTokenStore"/>).
/// Within a group, each rotation sees what the ones before it wrote, exactly as if they had been committed one after the
/// other. A caller learns its outcome only once its group is committed, so a rotation it was told about survives a crash.
/// </summary>
internal sealed class RotationGroupCommit : IDisposable
{
    /// <summary>The most rotations one transaction commits: it bounds how long a group holds its locks (SQLite's write lock, PostgreSQL's family rows).</summary>
    public const int MaxGroupSize = 64;

    /// <summary>Runs a group's rotations, in order, inside its transaction; one outcome per rotation, in the same order.</summary>
    public delegate Task<RefreshConsumeResult[]> RotateInTransaction(TransactionCommands commands, IReadOnlyList<RefreshRotation> rotations,
        CancellationToken cancellationToken);

    private readonly SqlDatabase _database;
    private readonly RotateInTransaction _rotate;
    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });

    public RotationGroupCommit(SqlDatabase database, RotateInTransaction rotate)
    {
        _database = database;
        _rotate = rotate;
        // The writer runs until Dispose completes the queue. It never throws: every failure goes to a caller.
        _ = Task.Run(WriteGroupsAsync);
    }

    public Task<RefreshConsumeResult> RotateAsync(RefreshRotation rotation, CancellationToken cancellationToken)
    {
        var pending = new Pending(rotation, cancellationToken);
        if (!_queue.Writer.TryWrite(pending))
            throw new ObjectDisposedException(nameof(RotationGroupCommit));
        return pending.Outcome.Task;
    }

    /// <summary>Takes no more rotations; those already queued are still committed.</summary>
    public void Dispose() => _queue.Writer.TryComplete();

    private async Task WriteGroupsAsync()
    {
        var group = new List<Pending>(MaxGroupSize);
        while (await _queue.Reader.WaitToReadAsync())
        {
            while (group.Count < MaxGroupSize && _queue.Reader.TryRead(out Pending? pending))
            {
                // A caller that gave up before its group started changes nothing. Once the group has started, the
                // rotation is committed with it: its successor is then sealed for the reuse window, like any other.
                if (pending.CancellationToken.IsCancellationRequested)
                    pending.Outcome.TrySetCanceled(pending.CancellationToken);
                else
                    group.Add(pending);
            }

            if (group.Count > 0)
                await CommitAsync(InLockOrder(group));
            group.Clear();
        }
    }

    /// <summary>
    /// Families in one order (and one family's presentations in the order they arrived): a group locks its families one
    /// by one, and two nodes' groups that locked shared families in different orders could deadlock on PostgreSQL.
    /// </summary>
    private static Pending[] InLockOrder(List<Pending> group) =>
        [.. group.OrderBy(pending => pending.Rotation.Successor.FamilyId, StringComparer.Ordinal)];

    private async Task CommitAsync(IReadOnlyList<Pending> group)
    {
        RefreshConsumeResult[] outcomes;
        try
        {
            // No cancellation from here on: the group is one transaction for many callers.
            await using DbConnection connection = await _database.OpenAsync(CancellationToken.None);
            await using DbTransaction transaction = await _database.BeginWriteAsync(connection, CancellationToken.None);
            await using var commands = new TransactionCommands(connection, transaction);
            outcomes = await _rotate(commands, [.. group.Select(pending => pending.Rotation)], CancellationToken.None);
            await transaction.CommitAsync(CancellationToken.None);
        }
        catch (Exception e) when (group.Count > 1 && !_database.IsUnavailable(e))
        {
            // The whole group is rolled back. One rotation's failure must not become the others': commit each alone,
            // so that each caller gets its own outcome, or its own exception.
            foreach (Pending pending in group)
                await CommitAsync([pending]);
            return;
        }
        catch (Exception e)
        {
            // One rotation, or a database that cannot be reached: trying each rotation alone would only wait for it
            // again, once per rotation, while the rotations queued behind them wait too.
            foreach (Pending pending in group)
                pending.Outcome.TrySetException(e);
            return;
        }

        for (int i = 0; i < group.Count; i++)
            group[i].Outcome.TrySetResult(outcomes[i]);
    }

    private sealed class Pending(RefreshRotation rotation, CancellationToken cancellationToken)
    {
        public RefreshRotation Rotation { get; } = rotation;

        public CancellationToken CancellationToken { get; } = cancellationToken;

        // Callers continue on their own threads, not on the writer's: the next group is not kept waiting for them.
        public TaskCompletionSource<RefreshConsumeResult> Outcome { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
