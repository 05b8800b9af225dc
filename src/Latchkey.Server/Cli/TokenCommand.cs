using System.Buffers;
using System.CommandLine;
using System.Text;
using System.Text.Json;
using Latchkey.Jose;
using Latchkey.Keys;
using Latchkey.Storage;
using Latchkey.Storage.Sql;
using Latchkey.Storage.Sqlite;
using Microsoft.Extensions.Configuration;

namespace Latchkey.Server.Cli;

/// <summary><c>latchkey token decode TOKEN</c>: shows what is inside a token, offline, like a local jwt.io.</summary>
internal static class TokenCommand
{
    private static readonly Argument<string> Token = new("token") { Description = "The JWT to decode ('-' reads it from standard input)." };

    private static readonly JsonWriterOptions Indented = new() { Indented = true, Encoder = JwsWriter.Encoder };

    public static Command Create()
    {
        var decode = new Command("decode", "Show a token's header and claims, and check its signature against this data folder's keys.") { Token };
        decode.SetAction((parse, ct) => DecodeAsync(parse, ct));
        var token = new Command("token", "Inspect tokens.");
        token.Subcommands.Add(decode);
        return token;
    }

    private static async Task<int> DecodeAsync(ParseResult parse, CancellationToken cancellationToken)
    {
        string text = parse.GetValue(Token)!;
        if (text == "-")
            text = (await Console.In.ReadToEndAsync(cancellationToken)).Trim();

        ParsedJws jws;
        try
        {
            jws = JwsReader.Read(text, JwsReader.DefaultMaxLength, rejectEmbeddedKeys: false);
        }
        catch (JwtException e)
        {
            return CommonOptions.Fail($"not a readable JWT: {e.Message}");
        }

        using (jws)
        {
            Console.WriteLine("Header:");
            Console.WriteLine(Indent(jws.Header.RootElement));
            Console.WriteLine("Claims:");
            Console.WriteLine(Indent(jws.Claims));
            DateTimeOffset now = DateTimeOffset.UtcNow;
            foreach (string name in (string[])["iat", "nbf", "exp"])
            {
                if (jws.Claims.TryGetProperty(name, out JsonElement value) && value.TryGetInt64(out long seconds) && seconds is > 0 and < 253402300799)
                {
                    DateTimeOffset at = DateTimeOffset.FromUnixTimeSeconds(seconds);
                    string note = name != "exp" ? "" : at > now ? $" (expires in {Span(at - now)})" : $" (EXPIRED {Span(now - at)} ago)";
                    Console.WriteLine($"  {name}: {at.UtcDateTime:yyyy-MM-ddTHH:mm:ssZ}{note}");
                }
            }

            string verdict = await CheckSignatureAsync(parse, jws, cancellationToken);
            Console.WriteLine("Signature: " + verdict);
            // A script can tell a forged token from the exit code: 1 when our key says the signature is wrong.
            if (verdict.StartsWith("INVALID", StringComparison.Ordinal))
                return 1;
        }

        return 0;
    }

    private static string Indent(JsonElement json)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, Indented))
            json.WriteTo(writer);
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static string Span(TimeSpan t) =>
        t.TotalDays >= 1 ? $"{(int)t.TotalDays}d {t.Hours}h" : t.TotalHours >= 1 ? $"{(int)t.TotalHours}h {t.Minutes}m" : $"{t.Minutes}m {t.Seconds}s";

    /// <summary>Verifies with the public key of the same kid from the data folder; never needs the master key.</summary>
    private static async Task<string> CheckSignatureAsync(ParseResult parse, ParsedJws jws, CancellationToken cancellationToken)
    {
        LatchkeyOptions options;
        try
        {
            IConfiguration configuration = CommonOptions.Configuration(parse).Build();
            options = configuration.GetSection(LatchkeyOptions.SectionName).Get<LatchkeyOptions>() ?? new LatchkeyOptions();
        }
        catch (Exception e) when (CommonOptions.UnreadableConfiguration(e) is { } unreadable)
        {
            return $"not verified ({unreadable})";
        }

        SqlDatabase database = LatchkeyDatabase.Create(options);
        if (database is SqliteDatabase sqlite && !File.Exists(sqlite.Path))
            return $"not verified (no database at {sqlite.Path}).";

        IReadOnlyList<SigningKeyRecord> keys;
        try
        {
            await database.MigrateAsync(cancellationToken);
            keys = await new SqlSigningKeyStore(database).ListAsync(DateTimeOffset.MinValue, cancellationToken);
        }
        catch (LatchkeyStartupException e)
        {
            return $"not verified ({e.Message})";
        }
        catch (Exception e) when (database.IsUnavailable(e))
        {
            return $"not verified (the {database.Provider} database {database.Location} does not answer: {e.Message})";
        }

        SigningKeyRecord? record = keys.FirstOrDefault(k => k.KeyId == jws.KeyId);
        if (record is null || record.Algorithm != jws.Algorithm || JsonWebKeys.FromPublicJwk(record.PublicJwk) is not { } key)
            return $"not verified (no {jws.Algorithm} key with kid '{jws.KeyId}' in {database.Location}).";
        return key.Verify(jws.Algorithm, jws.SigningInput, jws.Signature)
            ? $"valid (key {record.KeyId}). Expiry, issuer and audience are not checked here."
            : "INVALID: the token was altered or signed by another key.";
    }
}
