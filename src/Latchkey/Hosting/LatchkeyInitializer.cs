using Latchkey.Accounts;
using Latchkey.Diagnostics;
using Latchkey.Keys;
using Latchkey.Storage.Sql;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Latchkey.Hosting;

/// <summary>
/// Prepares state before the first request: schema migrations, signing keys (the first one generated on a fresh
/// install), and the dummy password hash that keeps unknown-user logins as slow as real ones. Taking
/// <see cref="LatchkeyMetrics"/> creates the instruments at start, so the first scrape already shows the key age.
/// </summary>
internal sealed class LatchkeyInitializer(
    SqlDatabase database, SigningKeyRing keys, KeyRotation rotation, PasswordHasher hasher, IOptions<LatchkeyOptions> options,
    LatchkeyMetrics metrics, Tokens.Revocations revocations, ILogger<LatchkeyInitializer> logger)
    : IHostedService
{
    private readonly Lock _gate = new();
    private Task? _initialized;

    /// <summary>
    /// Runs once, whoever calls first. <c>latchkey serve</c> calls it before starting the host, so that a refusal (a wrong
    /// master key, an unreachable database) is only its own "cannot start" message; the host's call then finds it done.
    /// </summary>
    public Task StartAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
            return _initialized ??= InitializeAsync(cancellationToken);
    }

    private async Task InitializeAsync(CancellationToken cancellationToken)
    {
        if (Storage.Postgres.PostgresConnectionString.WeakTlsWarning(options.Value.Database) is { } weakTls)
            Log.WeakDatabaseTls(logger, weakTls);
        await database.MigrateAsync(cancellationToken);
        await keys.LoadAsync(rotation, cancellationToken);
        await revocations.LoadAsync(cancellationToken);
        // In the background: the dummy hash is a full Argon2id (tens of ms) and need not delay the first token. A login
        // that arrives before it is ready waits for it (Lazy), so none is answered faster for an unknown user.
        _ = Task.Run(hasher.Warm, CancellationToken.None);
        _ = metrics; // already created by being injected: see the summary

        string issuer = options.Value.Issuer!;
        if (Uri.TryCreate(issuer, UriKind.Absolute, out Uri? uri) && uri.Scheme == "http" && !uri.IsLoopback)
            Log.PlainHttpIssuer(logger, issuer);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
