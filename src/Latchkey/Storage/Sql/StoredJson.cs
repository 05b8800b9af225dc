using System.Text.Json;
using System.Text.Json.Serialization;

namespace Latchkey.Storage.Sql;

/// <summary>
/// Lists stored as JSON text (roles, grant types, scopes): <c>["a","b"]</c>, written and read by source-generated
/// code, so the stores need no reflection (Native AOT). The default options: the stored text is what it always was.
/// </summary>
internal static class StoredJson
{
    public static string Write(IReadOnlyList<string> values) =>
        JsonSerializer.Serialize(values as string[] ?? [.. values], StoredJsonContext.Default.StringArray);

    public static string[] ReadList(string json) => JsonSerializer.Deserialize(json, StoredJsonContext.Default.StringArray) ?? [];
}

[JsonSerializable(typeof(string[]))]
internal sealed partial class StoredJsonContext : JsonSerializerContext;
