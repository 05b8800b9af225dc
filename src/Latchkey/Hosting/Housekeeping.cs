using Latchkey.Accounts;
using Latchkey.Diagnostics;
using Latchkey.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Latchkey.Hosting;

/// <summary>
/// Every <see cref="Interval"/>, on every node: deletes what nothing can use any more (refresh families past their
/// absolute lifetime and expired refresh tokens, revocations past the tokens they refuse, login failures past their
/// window, streaks untouched for <see cref="StaleStreak"/>, addresses a user has not logged in from for
/// <see cref="LoginThrottleOptions.KnownAddressLifetime"/>), and audits the login locks that have ended. Each step deletes
/// in batches and is harmless to run on two nodes at once: a delete finds what the other left, and an ended lock is taken
/// by one node only.
/// </summary>
internal sealed class Housekeeping(Tokens.RefreshTokenFamilies families, IRevocationStore revocations, ILoginThrottleStore throttleStore, LoginThrottle throttle,
    Tokens.AuthorizationCodes codes, LoginSessions sessions, IOptions<LatchkeyOptions> options, TimeProvider time, ILogger<Housekeeping> logger) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromMinutes(1);

    /// <summary>A streak of failures for a username at an address is forgotten after this long without another.</summary>
    public static readonly TimeSpan StaleStreak = TimeSpan.FromDays(1);

    /// <summary>Rows one statement deletes at most, so that SQLite's one writer is held briefly; a full batch is followed by another.</summary>
    public const int Batch = 1000;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await RunOnceAsync(stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                Log.HousekeepingFailed(logger, e);
            }
        }
    }

    /// <summary>One pass; returns how many rows went (ended locks included).</summary>
    public async Task<int> RunOnceAsync(CancellationToken cancellationToken)
    {
        DateTimeOffset now = time.GetUtcNow();
        LoginThrottleOptions t = options.Value.LoginThrottle;
        int total = 0;
        total += await UntilDrainedAsync(() => families.PurgeExpiredAsync(now, Batch, cancellationToken));
        total += await UntilDrainedAsync(() => revocations.PurgeExpiredAsync(now, Batch, cancellationToken));
        total += await UntilDrainedAsync(() => codes.PurgeAsync(Batch, cancellationToken));
        total += await UntilDrainedAsync(() => sessions.PurgeAsync(Batch, cancellationToken));
        TimeSpan longestWindow = t.UsernameWindow > t.AddressWindow ? t.UsernameWindow : t.AddressWindow;
        total += await throttleStore.PurgeAsync(now - longestWindow, now - StaleStreak, now - t.KnownAddressLifetime, cancellationToken);
        total += await UntilDrainedAsync(() => throttle.ReportEndedLocksAsync(Batch, cancellationToken));
        return total;
    }

    private static async Task<int> UntilDrainedAsync(Func<Task<int>> batch)
    {
        int total = 0;
        int deleted;
        do
        {
            deleted = await batch();
            total += deleted;
        }
        while (deleted >= Batch);
        return total;
    }
}
