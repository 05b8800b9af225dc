using System.CommandLine;
using Latchkey.Keys;
using Latchkey.Storage;

namespace Latchkey.Server.Cli;

/// <summary>
/// <c>latchkey keys list|rotate|retire|revoke</c>. A running server picks the change up within its key refresh interval
/// (default 30 s); a rotated-in key signs only after every verifier can have fetched it.
/// </summary>
internal static class KeysCommand
{
    private static readonly Option<string?> Algorithm = new("--algorithm") { Description = "The new key's algorithm (default: the configured one, ES256 unless set; RS256 with --id-token)." };
    private static readonly Option<bool> IdToken = new("--id-token") { Description = "Rotate the key that signs id tokens (RS256) instead of the access tokens' key." };
    private static readonly Argument<string> Kid = new("kid") { Description = "The key id, as `keys list` shows it." };

    public static Command Create()
    {
        var keys = new Command("keys", "Manage signing keys.");

        var list = new Command("list", "List signing keys and their state.");
        list.SetAction(async (parse, ct) =>
        {
            if (await AdminServices.TryOpenAsync(parse, ct) is not { } admin)
                return 2;
            await using var _ = admin;
            Console.WriteLine($"{"KID",-44} {"ALG",-6} {"SIGNS",-13} {"STATE",-8} {"SIGNS FROM (UTC)",-20} {"STOPS SIGNING (UTC)",-20}");
            // A revoked key shows as "revoked", whatever its times.
            foreach (SigningKeyInfo k in await admin.Keys.ListAsync(ct))
                Console.WriteLine($"{k.KeyId,-44} {k.Algorithm,-6} {k.Purpose.Replace('_', ' ') + "s",-13} {k.State.ToString().ToLowerInvariant(),-8} " +
                                  $"{Time(k.SignsFrom),-20} {(k.StopsSigning is { } r ? Time(r) : "-"),-20}");
            return 0;
        });

        var rotate = new Command("rotate", "Add a new signing key; it is published now and signs once verifiers can have fetched it.") { Algorithm, IdToken };
        rotate.SetAction(async (parse, ct) =>
        {
            if (await AdminServices.TryOpenAsync(parse, ct) is not { } admin)
                return 2;
            await using var _ = admin;
            try
            {
                string purpose = parse.GetValue(IdToken) ? SigningKeyPurposes.IdToken : SigningKeyPurposes.AccessToken;
                SigningKeyInfo key = await admin.Keys.RotateAsync(purpose, parse.GetValue(Algorithm), actor: "cli", ct);
                Console.WriteLine($"Added {key.Algorithm} key {key.KeyId} for {key.Purpose.Replace('_', ' ')}s. It is published now and signs from {Time(key.SignsFrom)} UTC; " +
                                  "the keys it replaces stop signing then and stay published until their tokens expire.");
                return 0;
            }
            catch (ArgumentException e)
            {
                return CommonOptions.Fail(e.Message.Split(" (Parameter")[0]);
            }
            catch (LatchkeyStartupException e)
            {
                return CommonOptions.Fail(e.Message);
            }
        });

        var retire = new Command("retire", "Stop a key signing now; its tokens stay valid until they expire.") { Kid };
        retire.SetAction(async (parse, ct) =>
        {
            if (await AdminServices.TryOpenAsync(parse, ct) is not { } admin)
                return 2;
            await using var _ = admin;
            if (await admin.Keys.RetireAsync(parse.GetValue(Kid)!, actor: "cli", ct) is { } error)
                return CommonOptions.Fail(error);
            Console.WriteLine($"Retired {parse.GetValue(Kid)}: it no longer signs, and leaves the JWKS once its last token has expired.");
            return 0;
        });

        keys.Subcommands.Add(list);
        keys.Subcommands.Add(rotate);
        keys.Subcommands.Add(retire);

        var revoke = new Command("revoke",
            "Revoke a leaked key now: it stops signing and leaves the JWKS, and Latchkey refuses every token it signed; if it was signing, another key signs from now.")
        {
            Kid,
        };
        revoke.SetAction(async (parse, ct) =>
        {
            if (await AdminServices.TryOpenAsync(parse, ct) is not { } admin)
                return 2;
            await using var _ = admin;
            (KeyRevocation? result, string? error) = await admin.Keys.RevokeAsync(parse.GetValue(Kid)!, actor: "cli", ct);
            if (result is null)
                return CommonOptions.Fail(error!);
            string next = result switch
            {
                { SigningFromNow: { } added, Unannounced: true } => $" A new key, {added}, signs from now (not announced beforehand: " +
                                                                    "verifiers that cached the JWKS fetch it again when they meet its kid).",
                { SigningFromNow: { } pending } => $" The pending key {pending} signs from now.",
                _ => "",
            };
            Console.WriteLine($"Revoked {parse.GetValue(Kid)}: running servers stop publishing and accepting it within Latchkey:RevocationRefreshInterval.{next}");
            return 0;
        });
        keys.Subcommands.Add(revoke);
        return keys;
    }

    private static string Time(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss");
}
