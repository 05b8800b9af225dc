using Latchkey.Diagnostics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Latchkey.Keys;

/// <summary>
/// Every <see cref="KeyOptions.RefreshInterval"/>: rotate the signing keys that are due, and re-read the keys, so
/// that keys added or retired elsewhere (the CLI, another node) take effect here within that interval.
/// </summary>
internal sealed class SigningKeyMaintenance(SigningKeyRing ring, KeyRotation rotation, IOptions<LatchkeyOptions> options, TimeProvider time,
    ILogger<SigningKeyMaintenance> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.Keys.RefreshInterval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await TickAsync(stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // A failed refresh keeps the keys we have; the next tick tries again.
                Log.KeyMaintenanceFailed(logger, e);
            }
        }
    }

    internal async Task TickAsync(CancellationToken cancellationToken)
    {
        if (!ring.IsLoaded)
            return;
        foreach (Storage.SigningKeyRecord key in await rotation.RotateIfDueAsync(cancellationToken))
            Log.SigningKeyRotated(logger, key.KeyId, key.Algorithm, key.ActivatesAt);

        await ring.RefreshAsync(cancellationToken);
    }
}
