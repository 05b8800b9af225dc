using System.Text.Json;
using System.Text.Json.Serialization;
using Latchkey.Audit;

namespace Latchkey.Endpoints.Admin;

/// <summary>Source-generated JSON for the admin API's requests and answers (and <c>latchkey audit --json</c>, which shows the same entries).</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(UserSummary[]))]
[JsonSerializable(typeof(Latchkey.Accounts.ConsentEntry[]))]
[JsonSerializable(typeof(UserSummary))]
[JsonSerializable(typeof(CreateUserRequest))]
[JsonSerializable(typeof(ChangeRolesRequest))]
[JsonSerializable(typeof(SetPasswordRequest))]
[JsonSerializable(typeof(SetProfileRequest))]
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
internal sealed partial class AdminJsonContext : JsonSerializerContext;
