using System.Text.Json;
using System.Text.Json.Serialization;

namespace Latchkey.Protocol;

/// <summary>
/// Source-generated JSON for the protocol's own shapes: token responses, errors (RFC 6749 §5.2 and problem+json), and the
/// claims and values introspection writes. No reflection on the hot path. Endpoint-specific shapes have contexts of their
/// own, beside their endpoints, with these same settings.
/// </summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(TokenResponse))]
[JsonSerializable(typeof(OAuthErrorBody))]
[JsonSerializable(typeof(Microsoft.AspNetCore.Mvc.ProblemDetails))]
[JsonSerializable(typeof(JsonElement))]
[JsonSerializable(typeof(Dictionary<string, JsonElement>))]
[JsonSerializable(typeof(bool))]
[JsonSerializable(typeof(string))]
[JsonSerializable(typeof(long))]
internal sealed partial class LatchkeyJsonContext : JsonSerializerContext;
