// The reference points bench/run.sh measures Latchkey against, in one small ASP.NET Core app:
//
//   references constant [--urls URL]                   GET /token: a constant {"access_token": …} (the ceiling)
//   references hs256|es256|eddsa|rs256 [--urls URL]    GET /token: the seed's claims + iat/exp, signed per request
//                                                      with the raw primitive (the floor of each algorithm)
//   references rates [--seconds S]                     one-thread, in-process rates of the raw primitives and of
//                                                      Latchkey's own Argon2id PasswordHasher, as JSON lines
//   references rates --argon2id-verify [--seconds S]   the Argon2id verify rate alone
//
// As small as an app gets: CreateSlimBuilder, no logging providers, one route, a source-generated serializer.
using System.Text.Json.Serialization;
using Latchkey.Bench.References;

string mode = args.Length > 0 ? args[0] : "";
if (mode == "rates")
    return Rates.Run(args[1..]);

if (FloorToken.For(mode) is not { } token)
{
    Console.Error.WriteLine("usage: references constant|hs256|es256|eddsa|rs256 [--urls URL]  |  references rates [--argon2id-verify] [--seconds S]");
    return 2;
}

var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = args[1..] });
builder.Logging.ClearProviders();
var app = builder.Build();
app.MapGet("/token", () => TypedResults.Json(new TokenBody(token.Next()), ReferenceJson.Default.TokenBody));
app.Run();
return 0;

/// <summary>The seed tutorial's response: <c>{"access_token": token}</c>.</summary>
internal sealed record TokenBody([property: JsonPropertyName("access_token")] string AccessToken);

[JsonSerializable(typeof(TokenBody))]
internal sealed partial class ReferenceJson : JsonSerializerContext;
