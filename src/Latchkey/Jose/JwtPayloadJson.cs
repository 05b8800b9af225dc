using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Latchkey.Jose;

/// <summary>
/// How <see cref="Jwt.Encode(object, string, string, IReadOnlyDictionary{string, object?}?, bool)"/> turns a payload
/// into JSON: dictionaries keep their keys and order; properties of objects and records are written in snake_case
/// (<c>ClientId</c> → <c>client_id</c>) unless they carry <see cref="JsonPropertyNameAttribute"/>; every
/// <see cref="DateTimeOffset"/> and <see cref="DateTime"/> becomes a NumericDate (whole seconds since the epoch, UTC).
/// </summary>
[RequiresUnreferencedCode(UsesReflection)]
[RequiresDynamicCode(UsesReflection)]
internal static class JwtPayloadJson
{
    /// <summary>Why this is not for Native AOT or trimmed apps: it serializes any payload object by reflection.</summary>
    public const string UsesReflection =
        "Jwt.Encode serializes its payload (any object) and extra headers by reflection, which trimming and Native AOT " +
        "cannot see. Latchkey's server writes its own tokens without it.";

    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Encoder = JwsWriter.Encoder,
        WriteIndented = false,
        TypeInfoResolver = new DefaultJsonTypeInfoResolver(),
        Converters = { new NumericDateTimeOffsetConverter(), new NumericDateTimeConverter() },
    };

    public static byte[] Serialize(object payload)
    {
        ArgumentNullException.ThrowIfNull(payload);
        byte[] json = JsonSerializer.SerializeToUtf8Bytes(payload, payload.GetType(), Options);
        if (json.Length == 0 || json[0] != (byte)'{')
            throw new ArgumentException("A JWT payload must serialize to a JSON object (a dictionary, an anonymous object or a record).", nameof(payload));
        return json;
    }

    /// <summary>Writes extra header members (after <c>alg</c> and <c>typ</c>) with the payload's rules.</summary>
    public static void WriteMembers(Utf8JsonWriter writer, IEnumerable<KeyValuePair<string, object?>> members)
    {
        foreach ((string name, object? value) in members)
        {
            writer.WritePropertyName(name);
            JsonSerializer.Serialize(writer, value, Options);
        }
    }

    private sealed class NumericDateTimeOffsetConverter : JsonConverter<DateTimeOffset>
    {
        public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            DateTimeOffset.FromUnixTimeSeconds(reader.GetInt64());

        public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options) =>
            writer.WriteNumberValue(value.ToUnixTimeSeconds());
    }

    private sealed class NumericDateTimeConverter : JsonConverter<DateTime>
    {
        public override DateTime Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            DateTimeOffset.FromUnixTimeSeconds(reader.GetInt64()).UtcDateTime;

        public override void Write(Utf8JsonWriter writer, DateTime value, JsonSerializerOptions options)
        {
            // The tutorial's classic bug: datetime.now() instead of datetime.now(timezone.utc) shifts exp by the
            // local offset. A DateTime whose kind is Unspecified could be either, so it is refused, not guessed.
            if (value.Kind == DateTimeKind.Unspecified)
                throw new ArgumentException(
                    "A DateTime of kind Unspecified cannot be written as a NumericDate: it is not known to be UTC. " +
                    "Use DateTime.UtcNow, DateTimeOffset, or DateTime.SpecifyKind(value, DateTimeKind.Utc).");
            writer.WriteNumberValue(new DateTimeOffset(value.ToUniversalTime()).ToUnixTimeSeconds());
        }
    }
}
