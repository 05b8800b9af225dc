using System.Text.Json;
using System.Text.Json.Serialization;
using Latchkey.Endpoints;
using Latchkey.Endpoints.Admin;

namespace Latchkey.Protocol;

/// <summary>Source-generated JSON for everything the endpoints write: no reflection on the hot path.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(TokenResponse))]
[JsonSerializable(typeof(OAuthErrorBody))]
[JsonSerializable(typeof(Microsoft.AspNetCore.Mvc.ProblemDetails))]
[JsonSerializable(typeof(SeedTokenResponse))]
[JsonSerializable(typeof(DiscoveryDocument))]
[JsonSerializable(typeof(UserSummary[]))]
[JsonSerializable(typeof(UserSummary))]
[JsonSerializable(typeof(CreateUserRequest))]
[JsonSerializable(typeof(ChangeRolesRequest))]
[JsonSerializable(typeof(SetPasswordRequest))]
[JsonSerializable(typeof(ClientSummary[]))]
[JsonSerializable(typeof(ClientSummary))]
[JsonSerializable(typeof(ClientCreated))]
[JsonSerializable(typeof(ClientSecretIssued))]
[JsonSerializable(typeof(CreateClientRequest))]
[JsonSerializable(typeof(AuditEntry[]))]
[JsonSerializable(typeof(ChangeScopesRequest))]
[JsonSerializable(typeof(KeySummary[]))]
[JsonSerializable(typeof(KeySummary))]
[JsonSerializable(typeof(RotateKeyRequest))]
[JsonSerializable(typeof(JsonElement))]
[JsonSerializable(typeof(Dictionary<string, JsonElement>))]
[JsonSerializable(typeof(bool))]
[JsonSerializable(typeof(string))]
[JsonSerializable(typeof(long))]
internal sealed partial class LatchkeyJsonContext : JsonSerializerContext;
