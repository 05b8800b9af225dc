using System.Net;
using System.Text.Json;
using Latchkey.Audit;
using Latchkey.Diagnostics;
using Latchkey.Storage;
using Latchkey.Tests.Support;

namespace Latchkey.Tests.Audit;

/// <summary>
/// <see cref="AuditTrail.WriteAsync"/> escapes and caps every field once, so the log line and the stored row (as
/// <c>GET /admin/audit</c> shows it) agree and neither holds a line break or an ESC, whichever caller wrote the event.
/// </summary>
public sealed class AuditEscapingTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Write_ControlCharactersAndAnOverlongValueInEveryField_StoredAndLoggedEscapedAndCapped()
    {
        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync();
        await server.AddUserAsync("root", "audit-escaping-Pa55word", "admin");
        string token = await server.GetAdminTokenAsync("root", "audit-escaping-Pa55word");
        AuditTrail trail = server.Services.GetRequiredService<AuditTrail>();
        string overlong = new('d', 5000);

        await trail.WriteAsync(new AuditEvent(server.Time.GetUtcNow(), "forged\ntype", "out\rcome", Actor: "act\u001B[31mor", Subject: "sub\nInformation x[5001] ject",
            ClientId: "cli\u2028ent", Address: "addr\u0085ess", Detail: "detail\n" + overlong), Ct);

        using HttpResponseMessage response = await AdminHttp.SendAsync(server.Client, HttpMethod.Get, "/admin/audit", token);
        JsonElement stored = Assert.Single((await AdminHttp.JsonAsync(response, HttpStatusCode.OK)).EnumerateArray(),
            e => e.GetProperty("type").GetString()!.StartsWith("forged", StringComparison.Ordinal));
        Assert.Equal(@"forged\ntype", stored.GetProperty("type").GetString());
        Assert.Equal(@"out\rcome", stored.GetProperty("outcome").GetString());
        Assert.Equal(@"act\u001B[31mor", stored.GetProperty("actor").GetString());
        Assert.Equal(@"sub\nInformation x[5001] ject", stored.GetProperty("subject").GetString());
        Assert.Equal(@"cli\u2028ent", stored.GetProperty("client").GetString());
        Assert.Equal(@"addr\u0085ess", stored.GetProperty("address").GetString());
        string detail = stored.GetProperty("detail").GetString()!;
        Assert.Equal(@"detail\n" + overlong[..(LogText.MaxLength - 8)] + "…", detail);

        string logged = Assert.Single(server.Logs, l => l.Contains("[5001] Audit forged", StringComparison.Ordinal));
        Assert.Contains(@"Audit forged\ntype out\rcome: actor act\u001B[31mor, subject sub\nInformation x[5001] ject, client cli\u2028ent, address addr\u0085ess, detail " + detail, logged);
    }
}
