using Latchkey.Audit;
using Latchkey.Storage;
using Latchkey.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Latchkey.Tests.Audit;

/// <summary>Old audit events expire after <see cref="AuditOptions.Retention"/>, swept at most once an hour on write.</summary>
public sealed class AuditRetentionTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public void Options_DefaultRetention_IsNinetyDays() => Assert.Equal(TimeSpan.FromDays(90), new AuditOptions().Retention);

    [Fact]
    public async Task Retention_EventJustInsideThenJustPast_KeptThenDeleted()
    {
        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync(o => o.Audit.Retention = TimeSpan.FromDays(30));
        AuditTrail trail = server.Services.GetRequiredService<AuditTrail>();
        IAuditLog log = server.Services.GetRequiredService<IAuditLog>();
        DateTimeOffset first = server.Time.GetUtcNow();
        await trail.WriteAsync(new AuditEvent(first, "first", "success"), Ct);

        // 30 days less a minute later: inside retention, so the sweep this write triggers keeps it.
        server.Time.Advance(TimeSpan.FromDays(30) - TimeSpan.FromMinutes(1));
        await trail.WriteAsync(new AuditEvent(server.Time.GetUtcNow(), "second", "success"), Ct);
        Assert.Equal(["first", "second"], (await log.ReadAsync(DateTimeOffset.MinValue, Ct)).Select(e => e.Type));

        // Two minutes later it is past retention, but the last sweep was under an hour ago: still kept.
        server.Time.Advance(TimeSpan.FromMinutes(2));
        await trail.WriteAsync(new AuditEvent(server.Time.GetUtcNow(), "third", "success"), Ct);
        Assert.Contains(await log.ReadAsync(DateTimeOffset.MinValue, Ct), e => e.Type == "first");

        // An hour after the last sweep, the next write sweeps: the first event is gone, the rest stay.
        server.Time.Advance(AuditTrail.SweepInterval);
        await trail.WriteAsync(new AuditEvent(server.Time.GetUtcNow(), "fourth", "success"), Ct);
        Assert.Equal(["second", "third", "fourth"], (await log.ReadAsync(DateTimeOffset.MinValue, Ct)).Select(e => e.Type));
    }

    [Theory]
    [InlineData("24h", -24 * 60)]
    [InlineData("30m", -30)]
    [InlineData("7d", -7 * 24 * 60)]
    [InlineData("2026-01-01T00:00:00Z", null)]
    public void ParseSince_DurationsAndInstants(string text, int? minutesBack)
    {
        var now = new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);
        DateTimeOffset expected = minutesBack is { } m ? now.AddMinutes(m) : new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        Assert.Equal(expected, AuditTrail.ParseSince(text, now));
    }

    [Theory]
    [InlineData("yesterday")]
    [InlineData("h")]
    [InlineData("-5h")]
    public void ParseSince_Garbage_Null(string text) => Assert.Null(AuditTrail.ParseSince(text, DateTimeOffset.UnixEpoch));
}
