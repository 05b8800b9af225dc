using System.Text.Json;
using System.Text.Json.Serialization;

namespace Latchkey.Endpoints;

/// <summary>Source-generated JSON for the shapes of the public endpoints: the seed's token response and the discovery document.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(SeedTokenResponse))]
[JsonSerializable(typeof(DiscoveryDocument))]
internal sealed partial class EndpointsJsonContext : JsonSerializerContext;
